"""Push the pipeline's gauges to the Pushgateway, named as observability/metrics_contract.py says.

Each step pushes its own group (job=<step>, model=<name>), so the drift check does not erase the
training timestamp and the other way round.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from .errors import BadInput

TRAINING_TS = "mlops_training_last_success_timestamp_seconds"
DRIFT_DETECTED = "mlops_data_drift_detected"
DRIFT_SHARE = "mlops_data_drift_share"
_HELP = {
    TRAINING_TS: "Unix time of the last successful training run",
    DRIFT_DETECTED: "1 if the last drift check found dataset drift, else 0",
    DRIFT_SHARE: "share (0..1) of features that drifted in the last drift check",
}


def push(url: str, job: str, model: str, values: dict[str, float]) -> None:
    registry = CollectorRegistry()
    for name, value in values.items():
        Gauge(name, _HELP[name], registry=registry).set(value)
    try:
        push_to_gateway(url, job=f"mlops-{job}", grouping_key={"model": model}, registry=registry, timeout=10)
    except OSError as exc:
        raise BadInput(f"--pushgateway {url}: push failed ({exc})") from None
