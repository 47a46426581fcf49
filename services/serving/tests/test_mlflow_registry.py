"""models:/<name>@<alias> through a real MLflow registry (sqlite, its basic-auth app on) with the
artifacts on S3 (moto): resolving, following an alias that moves, and the fallback alias."""
from __future__ import annotations

import time

import numpy as np

from model_server.recommender import Recommender
from tools.build_recsys_model import customer_id as C

from .metrics_text import value
from .processes import wait_until
from .registry_servers import Registry
from .traffic import Load


def server_env(registry_url: str, s3_env: dict, auth_dir, uri: str, **extra) -> dict:
    return {"MODEL_URI": uri, "MLFLOW_TRACKING_URI": registry_url, "MLFLOW_AUTH_DIR": str(auth_dir),
            "REDIS_HOST": "", **s3_env, **extra}


def test_champion_alias_is_resolved_fetched_from_s3_and_served(
        registry, s3_env, auth_dir, model_path, other_model_path, start_server):
    models = Registry(registry, s3_env, "recsys")
    # Version 1 is the old model, version 2 the champion: the alias, not "latest", decides.
    models.add_version(model_path)
    models.set_alias("champion", models.add_version(other_model_path))
    server = start_server(server_env(registry, s3_env, auth_dir, "models:/recsys@champion"))

    metadata = server.get("/v2/models/recsys").json()
    assert metadata["versions"] == ["2"]
    assert metadata["properties"]["alias"] == metadata["properties"]["served_alias"] == "champion"
    served = server.infer([C(3), C(4)], k=5)
    assert served.json()["model_version"] == "2" and served.headers["x-model-version"] == "2"
    champion, _ = Recommender(other_model_path).recommend(np.array([C(3), C(4)], dtype=object), 5)
    assert served.json()["outputs"][0]["data"] == champion.skus.ravel().tolist()
    assert value(server.get("/metrics").text, "model_server_model_info", model="recsys", version="2",
                 source="mlflow", alias="champion", served_alias="champion") == 1
    assert '"source": "mlflow"' in server.logs()


def test_missing_challenger_serves_the_champion_and_says_so(
        registry, s3_env, auth_dir, model_path, start_server):
    models = Registry(registry, s3_env, "recsys-nochallenger")
    models.set_alias("champion", models.add_version(model_path))
    canary = start_server(server_env(registry, s3_env, auth_dir, "models:/recsys-nochallenger@challenger"))

    properties = canary.get("/v2/models/recsys").json()["properties"]
    assert (properties["alias"], properties["served_alias"]) == ("challenger", "champion")
    assert properties["alias_fallback"] == "alias 'challenger' does not exist; serving 'champion'"
    assert canary.infer([C(1)]).json()["model_version"] == "1"
    assert value(canary.get("/metrics").text, "model_server_model_info", version="1",
                 alias="challenger", served_alias="champion") == 1

    # Without a fallback alias the canary has nothing to serve: not ready, and it says why.
    strict = start_server(server_env(registry, s3_env, auth_dir, "models:/recsys-nochallenger@challenger",
                                     MODEL_FALLBACK_ALIAS=""), wait_ready=False)
    wait_until(lambda: "has no alias 'challenger'" in strict.get("/v2/health/ready").text,
               "the registry lookup to fail")
    assert strict.infer([C(1)]).status_code == 503


def test_wrong_registry_password_leaves_the_pod_not_ready(registry, s3_env, auth_dir, start_server):
    (auth_dir / "password").write_text("not-the-password")
    server = start_server(server_env(registry, s3_env, auth_dir, "models:/recsys@champion"),
                          wait_ready=False)
    wait_until(lambda: "MLflow registry answered 401" in server.get("/v2/health/ready").text,
               "the registry to refuse the credentials")
    assert server.infer([C(1)]).status_code == 503


def test_alias_moves_are_followed_under_load_without_a_failed_request(
        registry, s3_env, auth_dir, model_path, other_model_path, tmp_path, start_server):
    models = Registry(registry, s3_env, "recsys-releases")
    first, second = models.add_version(model_path), models.add_version(other_model_path)
    broken = tmp_path / "broken" / "recsys.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"\x08\x07not an onnx model" * 20)
    third = models.add_version(broken)
    models.set_alias("champion", first)
    server = start_server(server_env(registry, s3_env, auth_dir, "models:/recsys-releases@champion",
                                     MODEL_POLL_SECONDS="0.5", WORKERS="2"))
    pid = server.process.pid

    def all_on(version: str, since: float, previous: str) -> bool:
        # Both workers swapped: the last 20 answers agree, and no live worker still reports the
        # previous version (model_server_model_info is livemax over the workers). The answers
        # alone were not enough: kept-alive clients can all sit on one worker, and the other one,
        # a poll behind, answered the previous version after this returned (a fresh clone's
        # `make test`, 2026-11-30 23:23 UTC).
        recent = load.since(since)[-20:]
        return (len(recent) == 20 and all(o[1] == version for o in recent)
                and value(server.get("/metrics").text, "model_server_model_info", version=previous) == 0)

    with Load(server.url) as load:
        wait_until(lambda: len(load.outcomes) >= 20, "traffic on version 1")
        moved = time.monotonic()
        models.set_alias("champion", second)  # the release promotes version 2
        wait_until(lambda: all_on(second, moved, previous=first), "every worker to serve version 2")
        first_new = min(o[2] for o in load.since(moved) if o[1] == second)
        last_old = max((o[2] for o in load.since(moved) if o[1] == first), default=moved)

        broken_at = time.monotonic()
        models.set_alias("champion", third)  # a version that cannot load
        wait_until(lambda: value(server.get("/metrics").text, "model_server_model_load_failures_total",
                                 version=third) >= 2,
                   "version 3 to be tried and fail (each worker retries every poll)")
        after_broken = len(load.outcomes)
        wait_until(lambda: len(load.outcomes) >= after_broken + 20, "traffic while version 3 is broken")

        rolled_back = time.monotonic()
        models.set_alias("champion", first)  # the rollback
        wait_until(lambda: all_on(first, rolled_back, previous=second), "every worker to serve version 1 again")

    failures = [o for o in load.outcomes if o[0] != "200"]
    assert failures == []
    assert len(load.outcomes) > 100
    versions = [o[1] for o in load.outcomes]
    assert set(versions) == {first, second}  # version 3 never answered
    assert all(o[1] == second for o in load.since(broken_at) if o[2] < rolled_back)
    # The traffic above may all reach one worker (kept-alive connections); the other logs its
    # rollback swap a poll later, so wait for it instead of reading the log once.
    wait_until(lambda: server.logs().count('"msg": "model version swapped"') >= 4,
               "both workers to log both swaps")  # 2 workers x (1 -> 2, 2 -> 1)
    logs = server.logs()
    assert "new model version failed to load; still serving the previous one" in logs
    assert server.process.pid == pid and server.process.poll() is None  # no restart
    info = server.get("/metrics").text
    assert value(info, "model_server_model_info", version=first) == 1
    assert value(info, "model_server_model_info", version=second) == 0
    print(f"\nalias move -> first answer from version {second}: {first_new - moved:.2f} s; "
          f"-> last answer from version {first}: {last_old - moved:.2f} s "
          f"(MODEL_POLL_SECONDS=0.5, 2 workers, {len(load.outcomes)} requests, 0 failed)")
