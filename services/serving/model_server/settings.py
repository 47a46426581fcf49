"""Everything the platform tunes, read once from the environment (see README: Configuration)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    model_name: str
    model_uri: str
    model_cache_dir: str
    mlflow_tracking_uri: str
    model_load_retry_seconds: float
    model_poll_seconds: float
    model_fallback_alias: str
    mlflow_auth_dir: str
    port: int
    workers: int
    ort_threads: int
    redis_host: str
    redis_port: int
    redis_tls: bool
    redis_auth_token: str | None
    cache_ttl_seconds: int
    cache_timeout_seconds: float
    cache_retry_seconds: float
    default_k: int
    max_k: int
    max_batch_size: int
    max_body_bytes: int
    graceful_timeout_seconds: int
    drain_seconds: float
    log_level: str
    access_log: bool

    @property
    def cache_enabled(self) -> bool:
        return bool(self.redis_host)


# No container requests this many cores; a bare number this large is millicores.
_MILLICORES_FROM = 100


def cpu_request(env: dict[str, str]) -> float:
    # Kubernetes does not show a container its CPU request; the pod spec passes it through the
    # downward API (resourceFieldRef requests.cpu). With divisor 1m, as the platform sets it, the
    # value is bare millicores ("2000"); "2", "0.5" and "1500m" are read too.
    raw = env.get("CPU_REQUEST", "2").strip()
    if raw.endswith("m"):
        cores = float(raw[:-1]) / 1000
    else:
        cores = float(raw)
        if cores >= _MILLICORES_FROM:
            cores /= 1000
    if cores <= 0:
        raise ValueError(f"CPU_REQUEST must be positive, got {raw!r}")
    return cores


def load(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    cores = cpu_request(env)
    # One worker per requested core: the event loop is single-threaded, so more workers than
    # cores only add context switches; fewer leave a core idle.
    workers = int(env.get("WORKERS") or max(1, math.ceil(cores)))
    # Each worker runs one inference at a time on its loop thread, so ONNX Runtime gets the
    # worker's share of the request and never spins a pool against the other workers.
    ort_threads = int(env.get("ORT_THREADS") or max(1, int(cores // workers)))
    return Settings(
        model_name=env.get("MODEL_NAME", "recsys"),
        model_uri=env.get("MODEL_URI", "/mnt/models"),
        model_cache_dir=env.get("MODEL_CACHE_DIR", "/tmp/model-cache"),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", ""),
        model_load_retry_seconds=float(env.get("MODEL_LOAD_RETRY_SECONDS", "10")),
        # A rollback is an alias move; the 8-minute recovery target (seed) has to cover detection,
        # the canary analysis and the move. 30 s plus a load of a few seconds keeps serving's part
        # under a tenth of it, at one registry GET per worker per 30 s (100 workers: ~3 GET/s).
        model_poll_seconds=float(env.get("MODEL_POLL_SECONDS", "30")),
        model_fallback_alias=env.get("MODEL_FALLBACK_ALIAS", "champion"),
        mlflow_auth_dir=env.get("MLFLOW_AUTH_DIR", ""),
        port=int(env.get("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "9000")),
        workers=workers,
        ort_threads=ort_threads,
        redis_host=env.get("REDIS_HOST", ""),
        redis_port=int(env.get("REDIS_PORT", "6379")),
        redis_tls=_flag(env.get("REDIS_TLS", "false")),
        redis_auth_token=env.get("REDIS_AUTH_TOKEN") or None,
        cache_ttl_seconds=int(env.get("CACHE_TTL_SECONDS", "3600")),
        cache_timeout_seconds=float(env.get("CACHE_TIMEOUT_SECONDS", "0.05")),
        cache_retry_seconds=float(env.get("CACHE_RETRY_SECONDS", "1.0")),
        default_k=int(env.get("DEFAULT_K", "10")),
        max_k=int(env.get("MAX_K", "100")),
        max_batch_size=int(env.get("MAX_BATCH_SIZE", "64")),
        max_body_bytes=int(env.get("MAX_BODY_BYTES", str(64 * 1024))),
        graceful_timeout_seconds=int(env.get("GRACEFUL_TIMEOUT_SECONDS", "20")),
        # After SIGTERM a worker keeps serving this long, every response with `Connection: close`,
        # so clients (and the Service, whose endpoint removal lags SIGTERM by a second or two)
        # move their connections away before idle ones are closed. Below GRACEFUL_TIMEOUT_SECONDS.
        drain_seconds=float(env.get("DRAIN_SECONDS", "3")),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        access_log=_flag(env.get("ACCESS_LOG", "false")),
    )
