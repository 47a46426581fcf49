"""The metric contract: every series an alert rule or a dashboard query may read.

The serving image, the training pipeline and the platform exporters are built against
these names; the tests fail if a rule or a panel reads a metric that is not listed here,
and if a metric listed here is read by nothing (a dead promise).
"""

from __future__ import annotations

from dataclasses import dataclass

SERVING = "serving container (ONNX model server, PodMonitor in the model's namespace)"
EXECUTOR = "Seldon Core v1 executor 1.17.1 (same pod as the model server)"
PIPELINE = "training pipeline (Airflow jobs push to the platform Pushgateway)"
KSM = "kube-state-metrics (kube-prometheus-stack)"
KUBELET = "kubelet/cAdvisor (kube-prometheus-stack)"
DCGM = "NVIDIA dcgm-exporter"
CLOUDWATCH = "prometheus-community CloudWatch exporter (CloudWatch AWS/Kafka and AWS/Firehose)"
PROMETHEUS = "Prometheus itself (one series per scrape target)"

# Executor requests that count against the availability SLO: REST answers 5xx; the gRPC
# interceptor labels `code` with the gRPC status name, and these are its server-side failures.
EXECUTOR_ERROR_CODES = "5..|Unknown|Internal|Unavailable|DeadlineExceeded|DataLoss"

# Histogram buckets of the executor (prometheus client DefBuckets). The latency SLI counts
# requests above a bucket boundary, so a latency threshold must be one of these.
EXECUTOR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    source: str
    meaning: str

    def series_names(self) -> tuple[str, ...]:
        if self.kind == "histogram":
            return tuple(f"{self.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        return (self.name,)


CONTRACT: tuple[Metric, ...] = (
    # Serving container; `namespace` and `pod` are added by the scrape.
    Metric("model_server_requests_total", "counter", ("route", "method", "code", "model", "version"),
           SERVING, "HTTP requests handled, by route and status code"),
    Metric("model_server_request_duration_seconds", "histogram", ("route", "model", "version", "le"),
           SERVING, "request latency inside the model server; buckets include le=\"0.1\""),
    Metric("model_server_inference_duration_seconds", "histogram", ("model", "version", "le"),
           SERVING, "ONNX Runtime inference time only"),
    Metric("model_server_cache_requests_total", "counter", ("model", "version", "result"),
           SERVING, "feature/prediction cache look-ups; result is hit, miss or error (Redis errors)"),
    Metric("model_server_model_info", "gauge", ("model", "version", "source", "alias", "served_alias"),
           SERVING, "1 for the model version the pod serves, 0 for one it served before an alias move"),
    Metric("model_server_fallback_recommendations_total", "counter", ("model", "version"),
           SERVING, "customers answered with the popularity ranking (not seen in training)"),
    Metric("model_server_model_load_failures_total", "counter", ("model", "version"),
           SERVING, "new versions that failed to load after an alias move; the previous one keeps serving"),
    # Seldon executor: what callers see. deployment_name is the SeldonDeployment, named after
    # the model; predictor_name is `stable` or `canary`; code is the HTTP status (REST) or
    # gRPC status name.
    Metric("seldon_api_executor_server_requests_seconds", "histogram",
           ("deployment_name", "predictor_name", "predictor_version", "method", "code", "le"),
           EXECUTOR, "requests to the executor from the ingress, with latency"),
    # Training pipeline, pushed with a `model` label.
    Metric("mlops_training_last_success_timestamp_seconds", "gauge", ("model",),
           PIPELINE, "Unix time of the last successful training run"),
    Metric("mlops_data_drift_detected", "gauge", ("model",),
           PIPELINE, "1 if the last drift check found dataset drift, else 0"),
    Metric("mlops_data_drift_share", "gauge", ("model",),
           PIPELINE, "share (0..1) of features that drifted in the last drift check"),
    Metric("mlops_model_version_info", "gauge", ("model", "version", "stage"),
           PIPELINE, "always 1; registry version per stage (production or staging)"),
    # Release controller (`python -m pipeline release`), pushed per model after each decision.
    Metric("mlops_release_decision_timestamp_seconds", "gauge", ("model", "decision"),
           PIPELINE, "Unix time of the last release decision of each kind: start, promote, rollback, wait"),
    Metric("mlops_release_analysis_error_ratio", "gauge", ("model", "predictor"),
           PIPELINE, "share (0..1) of failed requests per predictor over the last canary analysis window"),
    Metric("mlops_release_analysis_p99_seconds", "gauge", ("model", "predictor"),
           PIPELINE, "p99 latency per predictor over the last canary analysis window"),
    Metric("mlops_release_analysis_requests", "gauge", ("model", "predictor"),
           PIPELINE, "requests per predictor over the last canary analysis window"),
    # Platform exporters.
    Metric("kube_horizontalpodautoscaler_status_current_replicas", "gauge",
           ("namespace", "horizontalpodautoscaler"), KSM, "replicas the HPA runs now"),
    Metric("kube_horizontalpodautoscaler_status_desired_replicas", "gauge",
           ("namespace", "horizontalpodautoscaler"), KSM, "replicas the HPA wants"),
    Metric("kube_horizontalpodautoscaler_spec_max_replicas", "gauge",
           ("namespace", "horizontalpodautoscaler"), KSM, "HPA maxReplicas"),
    Metric("kube_pod_container_status_waiting_reason", "gauge",
           ("namespace", "pod", "container", "reason"), KSM, "1 while a container waits for that reason"),
    Metric("kube_pod_container_resource_requests", "gauge",
           ("namespace", "pod", "container", "resource", "unit"), KSM, "container resource requests"),
    Metric("container_cpu_usage_seconds_total", "counter", ("namespace", "pod", "container"),
           KUBELET, "CPU seconds used by a container"),
    Metric("DCGM_FI_DEV_GPU_UTIL", "gauge", ("gpu", "UUID", "Hostname", "modelName"),
           DCGM, "GPU utilisation in percent (0..100)"),
    Metric("DCGM_FI_DEV_FB_USED", "gauge", ("gpu", "UUID", "Hostname", "modelName"),
           DCGM, "GPU framebuffer memory used, MiB"),
    Metric("DCGM_FI_DEV_FB_FREE", "gauge", ("gpu", "UUID", "Hostname", "modelName"),
           DCGM, "GPU framebuffer memory free, MiB"),
    # CloudWatch through the exporter: names are namespace_metric_statistic, snake-cased;
    # dimensions become labels (`Consumer Group` -> consumer_group). `job` and `instance` too.
    Metric("aws_kafka_sum_offset_lag_maximum", "gauge", ("cluster_name", "consumer_group", "topic"),
           CLOUDWATCH, "messages a consumer group is behind on a topic, summed over partitions (MSK SumOffsetLag)"),
    Metric("aws_kafka_estimated_max_time_lag_maximum", "gauge", ("cluster_name", "consumer_group", "topic"),
           CLOUDWATCH, "seconds a consumer group is behind on its most lagging partition (MSK EstimatedMaxTimeLag)"),
    Metric("aws_firehose_delivery_to_s3_data_freshness_maximum", "gauge", ("delivery_stream_name",),
           CLOUDWATCH, "age in seconds of the oldest record not yet delivered to S3"),
    Metric("aws_firehose_delivery_to_s3_success_average", "gauge", ("delivery_stream_name",),
           CLOUDWATCH, "share (0..1) of S3 puts that succeeded"),
    Metric("aws_firehose_failed_conversion_records_sum", "gauge", ("delivery_stream_name",),
           CLOUDWATCH, "records that failed Parquet conversion in the period (kept under the error prefix)"),
    Metric("up", "gauge", ("job", "instance", "namespace", "pod"),
           PROMETHEUS, "1 if the last scrape of the target succeeded"),
)


def series_names() -> frozenset[str]:
    """Every series name a PromQL expression may select (histograms expand to _bucket/_count/_sum)."""
    return frozenset(name for metric in CONTRACT for name in metric.series_names())


def by_name() -> dict[str, Metric]:
    return {metric.name: metric for metric in CONTRACT}
