"""Pipeline dashboard: training freshness, drift, registry versions, releases, stream lag and lake delivery."""

from observability.dashboards._common import graph, listing, model_variable, new, single
from observability.model_rules import TRAINING_MAX_AGE_DAYS
from observability.release_queries import CANARY_MAX_ERROR_RATIO

_M = 'model="$model"'


def build():
    return (new("mlops-pipeline", "MLOps / Training pipeline", "Retraining, drift and model versions per model.")
            .with_variable(model_variable())
            .with_panel(single("Since last successful training", "s",
                               f"time() - mlops_training_last_success_timestamp_seconds{{{_M}}}",
                               [(TRAINING_MAX_AGE_DAYS * 86400.0, "red")]))
            .with_panel(single("Drift detected", "none", f"mlops_data_drift_detected{{{_M}}}", [(1.0, "red")]))
            .with_panel(graph("Share of drifted features", "percentunit",
                              [(f"mlops_data_drift_share{{{_M}}}", "drift share")]))
            .with_panel(listing("Model version in production",
                                f'mlops_model_version_info{{{_M},stage="production"}}'))
            .with_panel(listing("Model version in staging", f'mlops_model_version_info{{{_M},stage="staging"}}'))
            .with_panel(listing("Release decisions (last of each kind)",
                                f"mlops_release_decision_timestamp_seconds{{{_M}}} * 1000"))
            .with_panel(graph("Canary analysis: error ratio per predictor", "percentunit",
                              [(f"mlops_release_analysis_error_ratio{{{_M}}}", "{{predictor}}")],
                              [(CANARY_MAX_ERROR_RATIO, "red")]))
            .with_panel(graph("Canary analysis: p99 per predictor", "s",
                              [(f"mlops_release_analysis_p99_seconds{{{_M}}}", "{{predictor}}")]))
            .with_panel(graph("Canary analysis: requests in the window", "short",
                              [(f"mlops_release_analysis_requests{{{_M}}}", "{{predictor}}")]))
            .with_panel(graph("Kafka consumer lag", "short", [(
                "max by (consumer_group, topic) (aws_kafka_sum_offset_lag_maximum)", "{{consumer_group}} {{topic}}")],
                [(10000.0, "red")]))
            .with_panel(graph("Kafka consumer time lag", "s", [(
                "max by (consumer_group, topic) (aws_kafka_estimated_max_time_lag_maximum)", "{{consumer_group}} {{topic}}")]))
            .with_panel(graph("Lake delivery freshness", "s", [(
                "max by (delivery_stream_name) (aws_firehose_delivery_to_s3_data_freshness_maximum)",
                "{{delivery_stream_name}}")], [(3600.0, "red")], width=24)))
