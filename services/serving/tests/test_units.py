"""Pure functions: settings, URIs, cache encoding."""
from __future__ import annotations

import numpy as np
import pytest

from model_server import cache, mlflow_registry, settings
from model_server.errors import ModelLoadError


def test_defaults_fit_a_two_core_pod():
    s = settings.load({})
    assert (s.port, s.workers, s.ort_threads) == (9000, 2, 1)
    assert (s.redis_port, s.redis_tls, s.redis_auth_token, s.cache_ttl_seconds) == (6379, False, None, 3600)
    assert not s.cache_enabled


@pytest.mark.parametrize("cpu,workers,threads", [
    ("1", 1, 1), ("500m", 1, 1), ("4", 4, 1), ("2500m", 3, 1),
    # The downward API with divisor 1m, as components/model_deployment.py sets it: bare millicores.
    ("2000", 2, 1), ("500", 1, 1), ("4000", 4, 1),
])
def test_workers_and_threads_follow_the_cpu_request(cpu, workers, threads):
    s = settings.load({"CPU_REQUEST": cpu})
    assert (s.workers, s.ort_threads) == (workers, threads)


def test_explicit_workers_give_threads_the_rest():
    s = settings.load({"CPU_REQUEST": "4", "WORKERS": "2"})
    assert (s.workers, s.ort_threads) == (2, 2)


def test_tls_and_token():
    s = settings.load({"REDIS_HOST": "cache.example", "REDIS_TLS": "true", "REDIS_AUTH_TOKEN": "t"})
    assert s.cache_enabled and s.redis_tls and s.redis_auth_token == "t"


@pytest.mark.parametrize("uri,expected", [
    ("models:/recsys@champion", ("recsys", None, "champion")),
    ("models:/recsys/3", ("recsys", "3", None)),
])
def test_models_uri(uri, expected):
    assert mlflow_registry.parse_models_uri(uri) == expected


@pytest.mark.parametrize("uri", ["models:/", "models:/recsys", "models:/recsys/latest", "models:/a/b@c"])
def test_bad_models_uri(uri):
    with pytest.raises(ModelLoadError, match="is not models:/<name>@<alias>"):
        mlflow_registry.parse_models_uri(uri)


def test_cache_value_round_trip_and_key():
    skus = np.array(["SKU-00000005", "SKU-00000009", "SKU-00000002"], dtype=object)
    scores = np.array([0.9, 0.5, 0.1], dtype=np.float32)
    decoded = cache.decode(cache.encode(skus, scores, True), 3)
    assert decoded is not None
    assert decoded[0] == skus.tolist() and np.float32(decoded[1]).tolist() == scores.tolist()
    assert decoded[2] is True
    assert cache.decode(cache.encode(skus, scores, False), 4) is None  # another k: a miss
    assert cache.decode(b"\x00" * 36, 3) is None  # the old packed layout: a miss
    assert cache.cache_key("recsys", "7", 10, "C000001234") == "reco:recsys:7:k10:cC000001234"


@pytest.mark.parametrize("loc,field", [
    (("outputs", 0, "name"), "outputs[0].name"), (("id",), "id"),
    (("inputs", 2, "shape", 1), "inputs[2].shape[1]"),
])
def test_field_names_in_errors(loc, field):
    from model_server.protocol import _field

    assert _field(loc) == field


def test_poll_and_drain_defaults():
    s = settings.load({})
    assert (s.model_poll_seconds, s.model_fallback_alias, s.mlflow_auth_dir) == (30.0, "champion", "")
    # The drain must end before gunicorn's graceful timeout kills the worker.
    assert 0 < s.drain_seconds < s.graceful_timeout_seconds


def test_basic_auth_from_a_mounted_secret(tmp_path):
    import base64

    (tmp_path / "username").write_text("serving\n")
    (tmp_path / "password").write_text("s3cret\n")
    header = mlflow_registry._authorization(str(tmp_path))
    assert header == "Basic " + base64.b64encode(b"serving:s3cret").decode()
    (tmp_path / "password").unlink()
    with pytest.raises(ModelLoadError, match=f"MLFLOW_AUTH_DIR {tmp_path}: cannot read"):
        mlflow_registry._authorization(str(tmp_path))


def test_pod_is_ready_only_when_every_worker_is(tmp_path, monkeypatch):
    from model_server import worker_readiness
    from model_server.lifecycle import ModelState

    monkeypatch.setenv(worker_readiness.ENV, str(tmp_path))
    state = ModelState(settings.load({"WORKERS": "2"}))
    assert state.pod_ready() == (False, "model is loading")
    state.service = object()  # this worker has its model
    worker_readiness.mark_ready(101)
    assert state.pod_ready() == (False, "1 of 2 workers have loaded the model")
    worker_readiness.mark_ready(102)
    assert state.pod_ready() == (True, "")
    worker_readiness.worker_exited(102)  # gunicorn's child_exit for a crashed worker
    assert state.pod_ready() == (False, "1 of 2 workers have loaded the model")
