"""The metric names the platform's alert rules and dashboards are written against: keep them.

Several worker processes serve one pod, so the values live in prometheus_client's multiprocess
files (PROMETHEUS_MULTIPROC_DIR, set by the entry point before this module is imported) and every
scrape of /metrics sums all workers, whichever worker answers it.
"""
from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess

# 0.1 s is the edge the p99 alert is drawn on, so a bucket must sit exactly there.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)
# Inference on one user is sub-millisecond; finer buckets below 5 ms show regressions early.
INFERENCE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)

REQUESTS = Counter(
    "model_server_requests",
    "HTTP requests answered, by templated route, method and status code.",
    ["route", "method", "code", "model", "version"],
)
REQUEST_DURATION = Histogram(
    "model_server_request_duration_seconds",
    "Time from request received to response sent, by templated route.",
    ["route", "model", "version"],
    buckets=REQUEST_BUCKETS,
)
INFERENCE_DURATION = Histogram(
    "model_server_inference_duration_seconds",
    "Time spent in ONNX Runtime for one batch (cache misses only).",
    ["model", "version"],
    buckets=INFERENCE_BUCKETS,
)
CACHE_REQUESTS = Counter(
    "model_server_cache_requests",
    "Cache lookups, one per user id: hit, miss, or error (Redis slow, down or skipped after a failure).",
    ["model", "version", "result"],
)
# livemax: a worker's 1 disappears with the worker (mark_process_dead), and several live workers
# serving the same model still read as 1, not as the worker count. A worker that swaps versions sets
# the old version's series to 0 (a multiprocess file cannot drop a series).
MODEL_INFO = Gauge(
    "model_server_model_info",
    "1 for the model version this pod serves, 0 for one it served before; source is local or mlflow; "
    "alias is the registry alias asked for, served_alias the one served (they differ when the "
    "asked alias does not exist and MODEL_FALLBACK_ALIAS is served).",
    ["model", "version", "source", "alias", "served_alias"],
    multiprocess_mode="livemax",
)
FALLBACKS = Counter(
    "model_server_fallback_recommendations",
    "Customers answered with the popularity ranking because the model never saw them in training.",
    ["model", "version"],
)
MODEL_LOAD_FAILURES = Counter(
    "model_server_model_load_failures",
    "Failed loads of a new model version (registry, S3, ONNX Runtime or warm-up); the version "
    "already served keeps serving. version is the one that failed (unknown if it was not resolved).",
    ["model", "version"],
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def exposition() -> tuple[bytes, str]:
    """Every worker's metrics, summed, in the text format Prometheus scrapes."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
