"""Everything the platform tunes, read once from the environment (see README: Configuration)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass


class SettingsError(ValueError):
    """One bad environment variable: `NAME='value': expected <what is allowed>`."""

    def __init__(self, name: str, raw: str, allowed: str):
        super().__init__(f"{name}={raw!r}: expected {allowed}")


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WHOLE = "a whole number of at least 1"
_PORT = "a whole number from 1 to 65535"
_POSITIVE_SECONDS = "a number of seconds above 0"
_SECONDS = "a number of seconds, 0 or more"


def _flag(env: dict[str, str], name: str, default: str) -> bool:
    raw = env.get(name) or default  # empty: the default, as for an unset variable
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise SettingsError(name, raw, "true or false (also 1/0, yes/no, on/off)")
    return value in _TRUE


def _whole(env: dict[str, str], name: str, default: str, low: int = 1, high: int | None = None,
           allowed: str = _WHOLE) -> int:
    raw = env.get(name) or default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, raw, allowed) from None
    if value < low or (high is not None and value > high):
        raise SettingsError(name, raw, allowed)
    return value


def _seconds(env: dict[str, str], name: str, default: str, above_zero: bool) -> float:
    raw = env.get(name) or default
    allowed = _POSITIVE_SECONDS if above_zero else _SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, raw, allowed) from None
    if not math.isfinite(value) or value < 0 or (above_zero and value == 0):
        raise SettingsError(name, raw, allowed)
    return value


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
    raw = env.get("CPU_REQUEST", "2")
    value = raw.strip()
    try:
        if value.endswith("m"):
            cores = float(value[:-1]) / 1000
        else:
            cores = float(value)
            if cores >= _MILLICORES_FROM:
                cores /= 1000
    except ValueError:
        cores = math.nan
    if not (math.isfinite(cores) and cores > 0):
        raise SettingsError("CPU_REQUEST", raw, "a number of cores (0.5, 2) or millicores (1500m, 2000) above 0")
    return cores


def load(env: dict[str, str] | None = None) -> Settings:
    """The settings from `env` (default: the process environment). SettingsError names the first
    bad variable, its value and what is allowed (the README's configuration table)."""
    env = dict(os.environ if env is None else env)
    cores = cpu_request(env)
    # One worker per requested core: the event loop is single-threaded, so more workers than
    # cores only add context switches; fewer leave a core idle.
    workers = _whole(env, "WORKERS", str(max(1, math.ceil(cores))))
    # Each worker runs one inference at a time on its loop thread, so ONNX Runtime gets the
    # worker's share of the request and never spins a pool against the other workers.
    ort_threads = _whole(env, "ORT_THREADS", str(max(1, int(cores // workers))))
    max_k = _whole(env, "MAX_K", "100")
    graceful_timeout_seconds = _whole(env, "GRACEFUL_TIMEOUT_SECONDS", "20")
    # After SIGTERM a worker keeps serving this long, every response with `Connection: close`,
    # so clients (and the Service, whose endpoint removal lags SIGTERM by a second or two)
    # move their connections away before idle ones are closed. Below GRACEFUL_TIMEOUT_SECONDS,
    # which kills the worker at its end: in-flight requests need time after the drain.
    drain_default = "3"
    drain_seconds = _seconds(env, "DRAIN_SECONDS", drain_default, above_zero=False)
    if drain_seconds >= graceful_timeout_seconds:
        raise SettingsError("DRAIN_SECONDS", env.get("DRAIN_SECONDS") or drain_default,
                            f"{_SECONDS} and below GRACEFUL_TIMEOUT_SECONDS ({graceful_timeout_seconds})")
    log_level = env.get("LOG_LEVEL", "INFO")
    if log_level.upper() not in _LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", log_level, f"one of {', '.join(_LOG_LEVELS)}")
    return Settings(
        model_name=env.get("MODEL_NAME", "recsys"),
        model_uri=env.get("MODEL_URI", "/mnt/models"),
        model_cache_dir=env.get("MODEL_CACHE_DIR", "/tmp/model-cache"),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", ""),
        model_load_retry_seconds=_seconds(env, "MODEL_LOAD_RETRY_SECONDS", "10", above_zero=True),
        # A rollback is an alias move; the 8-minute recovery target (seed) has to cover detection,
        # the canary analysis and the move. 30 s plus a load of a few seconds keeps serving's part
        # under a tenth of it, at one registry GET per worker per 30 s (100 workers: ~3 GET/s).
        model_poll_seconds=_seconds(env, "MODEL_POLL_SECONDS", "30", above_zero=False),
        model_fallback_alias=env.get("MODEL_FALLBACK_ALIAS", "champion"),
        mlflow_auth_dir=env.get("MLFLOW_AUTH_DIR", ""),
        port=_whole(env, "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "9000", high=65535, allowed=_PORT),
        workers=workers,
        ort_threads=ort_threads,
        redis_host=env.get("REDIS_HOST", ""),
        redis_port=_whole(env, "REDIS_PORT", "6379", high=65535, allowed=_PORT),
        redis_tls=_flag(env, "REDIS_TLS", "false"),
        redis_auth_token=env.get("REDIS_AUTH_TOKEN") or None,
        cache_ttl_seconds=_whole(env, "CACHE_TTL_SECONDS", "3600"),
        cache_timeout_seconds=_seconds(env, "CACHE_TIMEOUT_SECONDS", "0.05", above_zero=True),
        cache_retry_seconds=_seconds(env, "CACHE_RETRY_SECONDS", "1.0", above_zero=False),
        default_k=_whole(env, "DEFAULT_K", "10", high=max_k, allowed=f"a whole number from 1 to MAX_K ({max_k})"),
        max_k=max_k,
        max_batch_size=_whole(env, "MAX_BATCH_SIZE", "64"),
        max_body_bytes=_whole(env, "MAX_BODY_BYTES", str(64 * 1024)),
        graceful_timeout_seconds=graceful_timeout_seconds,
        drain_seconds=drain_seconds,
        log_level=log_level.upper(),
        access_log=_flag(env, "ACCESS_LOG", "false"),
    )
