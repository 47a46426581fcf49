"""settings.load: the defaults of the README's configuration table, the CPU request as the downward
API passes it, and a bad value refused with one line naming the variable, the value and what is
allowed (the entry point prints that line and exits 2)."""
from __future__ import annotations

import pytest

from model_server import settings
from model_server.settings import SettingsError


def test_defaults_are_the_readme_table():
    s = settings.load({})
    assert (s.model_name, s.model_uri, s.model_cache_dir, s.mlflow_tracking_uri) == (
        "recsys", "/mnt/models", "/tmp/model-cache", "")
    assert (s.model_load_retry_seconds, s.model_poll_seconds, s.model_fallback_alias) == (10.0, 30.0, "champion")
    assert (s.redis_host, s.redis_port, s.redis_tls, s.redis_auth_token) == ("", 6379, False, None)
    assert (s.cache_ttl_seconds, s.cache_timeout_seconds, s.cache_retry_seconds) == (3600, 0.05, 1.0)
    assert (s.port, s.default_k, s.max_k, s.max_batch_size, s.max_body_bytes) == (9000, 10, 100, 64, 65536)
    assert (s.graceful_timeout_seconds, s.drain_seconds, s.log_level, s.access_log) == (20, 3.0, "INFO", False)


def test_every_variable_is_read():
    env = {"MODEL_NAME": "ranker", "MODEL_URI": "models:/ranker@challenger", "MODEL_CACHE_DIR": "/cache",
           "MLFLOW_TRACKING_URI": "https://mlflow.internal", "MODEL_LOAD_RETRY_SECONDS": "2.5",
           "MODEL_POLL_SECONDS": "0", "MODEL_FALLBACK_ALIAS": "", "MLFLOW_AUTH_DIR": "/secrets/mlflow",
           "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "9100", "REDIS_HOST": "cache.internal", "REDIS_PORT": "6380",
           "REDIS_TLS": "yes", "REDIS_AUTH_TOKEN": "t0k", "CACHE_TTL_SECONDS": "60", "CACHE_TIMEOUT_SECONDS": "0.2",
           "CACHE_RETRY_SECONDS": "0", "DEFAULT_K": "20", "MAX_K": "20", "MAX_BATCH_SIZE": "8",
           "MAX_BODY_BYTES": "1024", "GRACEFUL_TIMEOUT_SECONDS": "30", "DRAIN_SECONDS": "0", "LOG_LEVEL": "debug",
           "ACCESS_LOG": "on", "CPU_REQUEST": "4", "WORKERS": "3", "ORT_THREADS": "2"}
    s = settings.load(env)
    assert (s.model_name, s.model_uri, s.model_cache_dir, s.mlflow_tracking_uri, s.mlflow_auth_dir) == (
        "ranker", "models:/ranker@challenger", "/cache", "https://mlflow.internal", "/secrets/mlflow")
    assert (s.model_load_retry_seconds, s.model_poll_seconds, s.model_fallback_alias) == (2.5, 0.0, "")
    assert (s.port, s.workers, s.ort_threads) == (9100, 3, 2)
    assert (s.redis_host, s.redis_port, s.redis_tls, s.redis_auth_token, s.cache_enabled) == (
        "cache.internal", 6380, True, "t0k", True)
    assert (s.cache_ttl_seconds, s.cache_timeout_seconds, s.cache_retry_seconds) == (60, 0.2, 0.0)
    assert (s.default_k, s.max_k, s.max_batch_size, s.max_body_bytes) == (20, 20, 8, 1024)
    assert (s.graceful_timeout_seconds, s.drain_seconds, s.log_level, s.access_log) == (30, 0.0, "DEBUG", True)


@pytest.mark.parametrize("value,flag", [("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("on", True),
                                        ("0", False), ("false", False), ("no", False), ("off", False)])
def test_flags(value, flag):
    s = settings.load({"REDIS_TLS": value, "ACCESS_LOG": value})
    assert (s.redis_tls, s.access_log) == (flag, flag)


@pytest.mark.parametrize("raw,cores", [
    ("1", 1.0), ("0.5", 0.5), ("2.5", 2.5), ("1500m", 1.5), ("250m", 0.25),
    # The edge of "a bare number is millicores": 99 is cores, 100 millicores (no pod requests 100 cores).
    ("99", 99.0), ("100", 0.1), ("2000", 2.0), (" 4000 ", 4.0),
])
def test_cpu_request_in_cores_or_millicores(raw, cores):
    assert settings.cpu_request({"CPU_REQUEST": raw}) == cores


def test_cpu_request_defaults_to_two_cores():
    assert settings.cpu_request({}) == 2.0


@pytest.mark.parametrize("cpu,workers,threads", [
    # One worker per requested core, rounded up; at least one.
    ("0.001", 1, 1), ("1", 1, 1), ("1001m", 2, 1), ("3", 3, 1), ("3.5", 4, 1), ("8000", 8, 1),
])
def test_one_worker_per_requested_core(cpu, workers, threads):
    s = settings.load({"CPU_REQUEST": cpu})
    assert (s.workers, s.ort_threads) == (workers, threads)


@pytest.mark.parametrize("cpu,workers,threads", [("4", "4", 1), ("4", "3", 1), ("4", "2", 2), ("4", "1", 4),
                                                 ("2", "4", 1), ("5", "2", 2)])
def test_explicit_workers_split_the_cores_into_threads(cpu, workers, threads):
    assert settings.load({"CPU_REQUEST": cpu, "WORKERS": workers}).ort_threads == threads


def test_empty_workers_and_threads_mean_computed():
    s = settings.load({"CPU_REQUEST": "4", "WORKERS": "", "ORT_THREADS": ""})
    assert (s.workers, s.ort_threads) == (4, 1)


@pytest.mark.parametrize("name,value,allowed", [
    ("CPU_REQUEST", "0", "a number of cores (0.5, 2) or millicores (1500m, 2000) above 0"),
    ("CPU_REQUEST", "-1", "a number of cores (0.5, 2) or millicores (1500m, 2000) above 0"),
    ("CPU_REQUEST", "0m", "a number of cores (0.5, 2) or millicores (1500m, 2000) above 0"),
    ("CPU_REQUEST", "two", "a number of cores (0.5, 2) or millicores (1500m, 2000) above 0"),
    ("CPU_REQUEST", "nan", "a number of cores (0.5, 2) or millicores (1500m, 2000) above 0"),
    ("WORKERS", "0", "a whole number of at least 1"),
    ("WORKERS", "two", "a whole number of at least 1"),
    ("WORKERS", "1.5", "a whole number of at least 1"),
    ("ORT_THREADS", "0", "a whole number of at least 1"),
    ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "0", "a whole number from 1 to 65535"),
    ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "65536", "a whole number from 1 to 65535"),
    ("REDIS_PORT", "0", "a whole number from 1 to 65535"),
    ("REDIS_PORT", "65536", "a whole number from 1 to 65535"),
    ("REDIS_PORT", "redis", "a whole number from 1 to 65535"),
    ("CACHE_TTL_SECONDS", "0", "a whole number of at least 1"),
    ("DEFAULT_K", "0", "a whole number from 1 to MAX_K (100)"),
    ("MAX_K", "0", "a whole number of at least 1"),
    ("MAX_BATCH_SIZE", "0", "a whole number of at least 1"),
    ("MAX_BODY_BYTES", "0", "a whole number of at least 1"),
    ("GRACEFUL_TIMEOUT_SECONDS", "0", "a whole number of at least 1"),
    ("MODEL_LOAD_RETRY_SECONDS", "0", "a number of seconds above 0"),
    ("MODEL_LOAD_RETRY_SECONDS", "soon", "a number of seconds above 0"),
    ("MODEL_LOAD_RETRY_SECONDS", "inf", "a number of seconds above 0"),
    ("CACHE_TIMEOUT_SECONDS", "0", "a number of seconds above 0"),
    ("MODEL_POLL_SECONDS", "-1", "a number of seconds, 0 or more"),
    ("MODEL_POLL_SECONDS", "-0.001", "a number of seconds, 0 or more"),
    ("CACHE_RETRY_SECONDS", "-0.5", "a number of seconds, 0 or more"),
    ("DRAIN_SECONDS", "-1", "a number of seconds, 0 or more"),
    ("REDIS_TLS", "ture", "true or false (also 1/0, yes/no, on/off)"),
    ("ACCESS_LOG", "maybe", "true or false (also 1/0, yes/no, on/off)"),
    ("LOG_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
])
def test_a_bad_value_names_the_variable_the_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(SettingsError) as error:
        settings.load({name: value})
    assert str(error.value) == f"{name}={value!r}: expected {allowed}"


@pytest.mark.parametrize("name,value", [
    ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "1"), ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "65535"),
    ("REDIS_PORT", "1"), ("REDIS_PORT", "65535"), ("WORKERS", "1"), ("ORT_THREADS", "1"),
    ("CACHE_TTL_SECONDS", "1"), ("DEFAULT_K", "1"), ("MAX_BATCH_SIZE", "1"), ("MAX_BODY_BYTES", "1"),
    ("GRACEFUL_TIMEOUT_SECONDS", "4"), ("MODEL_LOAD_RETRY_SECONDS", "0.001"), ("CACHE_TIMEOUT_SECONDS", "0.001"),
    ("MODEL_POLL_SECONDS", "0"), ("CACHE_RETRY_SECONDS", "0"), ("DRAIN_SECONDS", "0"), ("LOG_LEVEL", "warning"),
])
def test_the_edge_values_are_accepted(name, value):
    settings.load({name: value})


def test_default_k_is_at_most_max_k():
    assert settings.load({"DEFAULT_K": "100", "MAX_K": "100"}).default_k == 100
    with pytest.raises(SettingsError, match=r"^DEFAULT_K='101': expected a whole number from 1 to MAX_K \(100\)$"):
        settings.load({"DEFAULT_K": "101"})


def test_the_drain_ends_before_the_graceful_timeout():
    # DRAIN_SECONDS of `Connection: close` must leave in-flight requests time inside gunicorn's
    # graceful timeout, which kills the worker at its end.
    assert settings.load({"DRAIN_SECONDS": "19.9"}).drain_seconds == 19.9
    for drain, graceful in (("20", "20"), ("25", "20"), ("3", "3")):
        with pytest.raises(SettingsError) as error:
            settings.load({"DRAIN_SECONDS": drain, "GRACEFUL_TIMEOUT_SECONDS": graceful})
        assert str(error.value) == (f"DRAIN_SECONDS={drain!r}: expected a number of seconds, 0 or more and below "
                                    f"GRACEFUL_TIMEOUT_SECONDS ({graceful})")
