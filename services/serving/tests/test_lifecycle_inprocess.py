"""lifecycle.ModelState in this process against the real registry (registry_servers): the first load
and its retries, readiness, following an alias (MLflow's champion/challenger: an alias moves, the
worker swaps; a version that cannot load is counted and the old one keeps serving), and what the
model metadata and model_info say about it."""
from __future__ import annotations

import asyncio
import logging

import pytest

from model_server import metrics, mlflow_registry, settings, worker_readiness
from model_server.lifecycle import UNKNOWN_VERSION, ModelState

from .metrics_text import value
from .processes import free_port
from .registry_servers import Registry, unique_name

# A deadline for a load in a test, not a timing: a busy machine may take long.
DEADLINE_SECONDS = 120


@pytest.fixture
def registry_env(registry, s3_env, auth_dir, tmp_path, monkeypatch):
    for key, value_ in s3_env.items():
        monkeypatch.setenv(key, value_)
    for key in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv(worker_readiness.ENV, raising=False)  # one process: no siblings to count
    return {"MLFLOW_TRACKING_URI": registry, "MLFLOW_AUTH_DIR": str(auth_dir), "REDIS_HOST": "",
            "MODEL_CACHE_DIR": str(tmp_path / "model-cache"), "MODEL_LOAD_RETRY_SECONDS": "0.05",
            "WORKERS": "1"}


@pytest.fixture
def models(registry, s3_env, model_path, other_model_path, tmp_path):
    """Versions 1 and 2 load; version 3 is not an ONNX model. champion -> 1."""
    models = Registry(registry, s3_env, unique_name("recsys"))
    broken = tmp_path / "broken" / "recsys.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"\x08\x07not an onnx model" * 20)
    assert [models.add_version(p) for p in (model_path, other_model_path, broken)] == ["1", "2", "3"]
    models.set_alias("champion", "1")
    return models


def state_for(env: dict, uri: str, **extra) -> ModelState:
    return ModelState(settings.load({**env, "MODEL_URI": uri, "MODEL_NAME": unique_name("m"), **extra}))


def loaded(state: ModelState) -> ModelState:
    """state after its first load, which must work the first time (load() itself would retry a
    failure until the deadline)."""
    async def first_load():
        loading = asyncio.ensure_future(state.load())
        while not loading.done():
            assert not state.problem.startswith("model failed to load"), state.problem
            await asyncio.sleep(0.01)
        loading.result()

    asyncio.run(asyncio.wait_for(first_load(), DEADLINE_SECONDS))
    return state


def model_info(state: ModelState, **labels) -> float:
    return value(metrics.exposition()[0].decode(), "model_server_model_info", model=state.settings.model_name,
                 **labels)


def load_failures(state: ModelState, version: str) -> float:
    return value(metrics.exposition()[0].decode(), "model_server_model_load_failures_total",
                 model=state.settings.model_name, version=version)


def test_a_new_state_is_not_ready_and_says_it_is_loading(registry_env, model_path):
    state = state_for(registry_env, str(model_path))
    assert (state.ready, state.version, state.properties()) == (False, UNKNOWN_VERSION, {})
    assert state.pod_ready() == (False, "model is loading")


def test_champion_loads_with_its_alias_in_metadata_and_metrics(registry_env, models):
    state = loaded(state_for(registry_env, f"models:/{models.name}@champion"))
    assert (state.ready, state.version, state.problem) == (True, "1", "")
    assert state.pod_ready() == (True, "")
    props = state.properties()
    assert props == {"source": "mlflow", "trained_until": state.service.recommender.trained_until,
                     "num_customers": "500", "num_items": "300", "alias": "champion", "served_alias": "champion"}
    assert model_info(state, version="1", source="mlflow", alias="champion", served_alias="champion") == 1


def test_missing_challenger_is_served_by_the_champion_until_it_exists(registry_env, models):
    state = loaded(state_for(registry_env, f"models:/{models.name}@challenger"))
    props = state.properties()
    assert (state.version, props["alias"], props["served_alias"]) == ("1", "challenger", "champion")
    assert props["alias_fallback"] == "alias 'challenger' does not exist; serving 'champion'"
    # A poll while the challenger is still missing: the fallback again, no swap and no failure.
    assert asyncio.run(state.refresh()) is False
    assert load_failures(state, UNKNOWN_VERSION) == 0 and state.version == "1"

    # The release sets the challenger on the champion's version: same version, other alias served.
    models.set_alias("challenger", "1")
    assert asyncio.run(state.refresh()) is True
    props = state.properties()
    assert (state.version, props["served_alias"], "alias_fallback" in props) == ("1", "challenger", False)
    assert model_info(state, version="1", served_alias="challenger") == 1
    assert model_info(state, version="1", served_alias="champion") == 0


def test_refresh_swaps_only_when_the_alias_moved(registry_env, models, monkeypatch):
    state = loaded(state_for(registry_env, f"models:/{models.name}@champion"))
    before = state.service
    asked = []
    real_get = mlflow_registry._get
    monkeypatch.setattr(mlflow_registry, "_get", lambda uri, path, *rest: asked.append(path) or real_get(uri, path, *rest))
    assert asyncio.run(state.refresh()) is False  # the alias did not move
    assert state.service is before
    assert asked == ["registered-models/alias"]  # a poll that finds no move costs the registry one request

    asked.clear()
    models.set_alias("champion", "2")
    assert asyncio.run(state.refresh()) is True
    assert asked == ["registered-models/alias", "model-versions/get-download-uri"]
    assert (state.version, state.artifact.version, state.service.version) == ("2", "2", "2")
    assert model_info(state, version="2") == 1 and model_info(state, version="1") == 0

    models.set_alias("champion", "1")  # the rollback
    assert asyncio.run(state.refresh()) is True
    assert state.version == "1"
    assert model_info(state, version="1") == 1 and model_info(state, version="2") == 0


def test_a_version_that_cannot_load_is_counted_and_the_old_one_stays(registry_env, models, caplog):
    state = loaded(state_for(registry_env, f"models:/{models.name}@champion"))
    serving = state.service
    models.set_alias("champion", "3")
    with caplog.at_level(logging.ERROR, logger="model_server.lifecycle"):
        assert asyncio.run(state.refresh()) is False
    [failed] = [r for r in caplog.records if r.name == "model_server.lifecycle"]
    assert failed.getMessage() == "new model version failed to load; still serving the previous one"
    assert failed.error.startswith("version 3: ") and failed.serving_version == "1"
    assert state.service is serving and state.version == "1" and state.pod_ready() == (True, "")
    assert load_failures(state, "3") == 1
    assert asyncio.run(state.refresh()) is False  # tried again on the next poll
    assert load_failures(state, "3") == 2
    assert model_info(state, version="3") == 0 and model_info(state, version="1") == 1


def test_a_registry_outage_while_serving_is_counted_as_unknown(registry_env, models):
    state = loaded(state_for(registry_env, f"models:/{models.name}@champion"))
    serving = state.service
    state.settings = settings.load({**registry_env, "MODEL_URI": f"models:/{models.name}@champion",
                                    "MODEL_NAME": state.settings.model_name,
                                    "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"})
    assert asyncio.run(state.refresh()) is False
    assert state.service is serving
    assert load_failures(state, UNKNOWN_VERSION) == 1


def test_first_load_retries_until_the_model_arrives(registry_env, tmp_path, model_path):
    target = tmp_path / "arriving" / "recsys.onnx"
    state = state_for(registry_env, str(target))

    async def scenario():
        loading = asyncio.ensure_future(state.load())
        while "does not exist" not in state.problem:
            assert not loading.done()
            await asyncio.sleep(0.01)
        assert state.problem == f"model failed to load: model path {target} does not exist"
        assert state.pod_ready() == (False, state.problem)
        target.parent.mkdir()
        target.write_bytes(model_path.read_bytes())
        await asyncio.wait_for(loading, DEADLINE_SECONDS)

    asyncio.run(scenario())
    assert (state.ready, state.problem, state.artifact.source) == (True, "", "local")
    assert model_info(state, source="local", alias="", served_alias="") == 1
    assert "alias" not in state.properties()
    before = state.service
    asyncio.run(state.load())  # a second load keeps the loaded model
    assert state.service is before


def test_a_corrupt_model_keeps_the_worker_not_ready_with_the_reason(registry_env, tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07not an onnx model" * 20)
    state = state_for(registry_env, str(corrupt))

    async def scenario():
        loading = asyncio.ensure_future(state.load())
        while state.problem == "model is loading":
            await asyncio.sleep(0.01)
        loading.cancel()
        return loading

    asyncio.run(scenario())
    assert state.problem.startswith("model failed to load: ") and not state.ready
    assert state.pod_ready() == (False, state.problem)


@pytest.mark.parametrize("uri,poll,follows", [
    ("models:/recsys@champion", "30", True), ("models:/recsys@champion", "0.5", True),
    ("models:/recsys@champion", "0", False), ("models:/recsys/3", "30", False), ("/mnt/models", "30", False),
])
def test_only_an_alias_with_a_poll_interval_is_followed(uri, poll, follows):
    assert ModelState(settings.load({"MODEL_URI": uri, "MODEL_POLL_SECONDS": poll})).follows_alias() is follows


def test_run_follows_the_alias_until_cancelled(registry_env, models):
    state = state_for(registry_env, f"models:/{models.name}@champion", MODEL_POLL_SECONDS="0.05")

    async def scenario():
        running = asyncio.ensure_future(state.run())
        while not state.ready:
            assert not running.done()
            await asyncio.sleep(0.01)
        models.set_alias("champion", "2")
        while state.version != "2":
            assert not running.done()  # following the alias never ends by itself
            await asyncio.sleep(0.01)
        running.cancel()

    asyncio.run(asyncio.wait_for(scenario(), DEADLINE_SECONDS))
    assert state.version == "2"


def test_run_returns_after_loading_a_file(registry_env, model_path):
    state = state_for(registry_env, str(model_path))
    asyncio.run(asyncio.wait_for(state.run(), DEADLINE_SECONDS))
    assert state.ready


def test_pod_is_ready_when_every_configured_worker_has_loaded(registry_env, model_path, tmp_path, monkeypatch):
    state = loaded(state_for(registry_env, str(model_path), WORKERS="3"))
    assert state.pod_ready() == (True, "")  # outside the entry point: no worker directory, one process
    monkeypatch.setenv(worker_readiness.ENV, str(tmp_path))
    assert state.pod_ready() == (False, "0 of 3 workers have loaded the model")
    for pid in (11, 12):
        worker_readiness.mark_ready(pid)
    assert state.pod_ready() == (False, "2 of 3 workers have loaded the model")
    worker_readiness.mark_ready(13)
    assert state.pod_ready() == (True, "")
    worker_readiness.mark_ready(14)  # more markers than workers (a restart racing child_exit)
    assert state.pod_ready() == (True, "")


def test_load_marks_this_worker_ready(registry_env, model_path, tmp_path, monkeypatch):
    import os

    workers = tmp_path / "workers"
    workers.mkdir()
    monkeypatch.setenv(worker_readiness.ENV, str(workers))
    state = state_for(registry_env, str(model_path))
    assert worker_readiness.ready_workers() == 0
    loaded(state)
    assert sorted(p.name for p in workers.iterdir()) == [f"ready-{os.getpid()}"]
    assert worker_readiness.ready_workers() == 1 and state.pod_ready() == (True, "")


def test_load_connects_the_cache_when_redis_is_configured(registry_env, model_path, redis_server):
    state = loaded(state_for(registry_env, str(model_path), REDIS_HOST="127.0.0.1",
                             REDIS_PORT=str(redis_server.port), CACHE_TTL_SECONDS="600"))
    assert state.service.cache is not None
    asyncio.run(state.close())
    uncached = loaded(state_for(registry_env, str(model_path)))
    assert uncached.service.cache is None
    asyncio.run(uncached.close())  # nothing to close: no error
