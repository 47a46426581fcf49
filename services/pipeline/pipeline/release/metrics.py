"""Release decisions as metrics, pushed to the Pushgateway (names in observability/metrics_contract.py).

Three groups per model, each replaced on every push so a stale value never lingers:
  job=mlops_release,          {model, decision}: mlops_release_decision_timestamp_seconds
  job=mlops_release_analysis, {model}:           mlops_release_analysis_{requests,error_ratio,p99_seconds}{predictor}
  job=mlops_model_versions,   {model}:           mlops_model_version_info{version, stage}
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from pipeline.release.analysis import Window

# Registry aliases as the stages the dashboards and mlops_model_version_info name them.
STAGES = {"champion": "production", "challenger": "staging"}


def push_decision(gateway: str, model: str, decision: str, at: float) -> None:
    registry = CollectorRegistry()
    Gauge("mlops_release_decision_timestamp_seconds", "Unix time of the last release decision of this kind",
          registry=registry).set(at)
    push_to_gateway(gateway, job="mlops_release", grouping_key={"model": model, "decision": decision},
                    registry=registry, timeout=10)


def push_analysis(gateway: str, model: str, windows: dict[str, Window]) -> None:
    registry = CollectorRegistry()
    gauges = {
        "requests": Gauge("mlops_release_analysis_requests", "requests in the last analysis window",
                          ["predictor"], registry=registry),
        "error_ratio": Gauge("mlops_release_analysis_error_ratio", "failed share in the last analysis window",
                             ["predictor"], registry=registry),
        "p99_seconds": Gauge("mlops_release_analysis_p99_seconds", "p99 in the last analysis window",
                             ["predictor"], registry=registry),
    }
    for predictor, window in windows.items():
        for field, gauge in gauges.items():
            value = getattr(window, field)
            gauge.labels(predictor=predictor).set(0.0 if value is None and field == "requests" else
                                                  float("nan") if value is None else value)
    push_to_gateway(gateway, job="mlops_release_analysis", grouping_key={"model": model}, registry=registry,
                    timeout=10)


def push_versions(gateway: str, model: str, alias_versions: dict[str, str]) -> None:
    registry = CollectorRegistry()
    info = Gauge("mlops_model_version_info", "always 1; registry version per stage", ["version", "stage"],
                 registry=registry)
    for alias, stage in STAGES.items():
        if alias in alias_versions:
            info.labels(version=alias_versions[alias], stage=stage).set(1)
    push_to_gateway(gateway, job="mlops_model_versions", grouping_key={"model": model}, registry=registry,
                    timeout=10)
