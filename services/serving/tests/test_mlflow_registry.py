"""models:/<name>@<alias> through a real MLflow registry (sqlite, its basic-auth app on) with the
artifacts on S3 (moto): resolving, following an alias that moves, and the fallback alias."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import boto3
import httpx
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from model_server.recommender import Recommender
from tools.build_recsys_model import customer_id as C

from .metrics_text import value
from .processes import free_port, wait_until
from .traffic import Load

BUCKET = "mlops-models"
ADMIN, PASSWORD = "admin", "test-admin-password-1"


@pytest.fixture(scope="module")
def s3_env():
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    boto3.client("s3", endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
    yield env
    moto.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory, s3_env):
    """`mlflow server --app-name basic-auth` on sqlite; clients write artifacts to S3 themselves."""
    workdir = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth_config = workdir / "basic_auth.ini"
    # Credential checks cached for a minute: PBKDF2 per request would make every poll cost the
    # registry a hash (the platform's MLflow should set the same).
    auth_config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN}\nadmin_password = {PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    log = open(workdir / "mlflow.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
         "--default-artifact-root", f"s3://{BUCKET}/mlflow", "--no-serve-artifacts"],
        # The auth app refuses to start without a fixed key for its CSRF tokens; the job runner
        # (one more process importing mlflow) has nothing to do for a registry.
        env={**os.environ, **s3_env, "MLFLOW_AUTH_CONFIG_PATH": str(auth_config),
             "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key",
             "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
        start_new_session=True,  # its own process group: the uvicorn worker it forks goes with it
    )

    def up():
        if process.poll() is not None:
            raise AssertionError((workdir / "mlflow.log").read_text())
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        # A deadline, not a timing: the first start migrates two sqlite stores (tracking and auth).
        wait_until(up, "the MLflow server", deadline=900)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


@pytest.fixture
def auth_dir(tmp_path):
    """The mounted Secret: files `username` and `password`."""
    directory = tmp_path / "mlflow-auth"
    directory.mkdir()
    (directory / "username").write_text(ADMIN)
    (directory / "password").write_text(PASSWORD)
    return directory


class Registry:
    """The registry as the training pipeline and the release controller write it."""

    def __init__(self, tracking_uri: str, s3_env: dict, name: str):
        from mlflow import MlflowClient

        self.name = name
        self._env = {**s3_env, "MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": PASSWORD}
        with self._environment():
            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            self.experiment = self.client.create_experiment(f"{name}-training")
            self.client.create_registered_model(name)

    def _environment(self):
        import contextlib

        @contextlib.contextmanager
        def patched():
            old = {k: os.environ.get(k) for k in self._env}
            os.environ.update(self._env)
            try:
                yield
            finally:
                for key, previous in old.items():
                    if previous is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = previous
        return patched()

    def add_version(self, path) -> str:
        with self._environment():
            run = self.client.create_run(self.experiment)
            self.client.log_artifact(run.info.run_id, str(path), artifact_path="model")
            return self.client.create_model_version(self.name, source=f"{run.info.artifact_uri}/model",
                                                    run_id=run.info.run_id).version

    def set_alias(self, alias: str, version: str) -> None:
        with self._environment():
            self.client.set_registered_model_alias(self.name, alias, version)


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

    def all_on(version: str, since: float) -> bool:
        # Both workers swapped: the last 20 answers (new connections spread over both) agree.
        recent = load.since(since)[-20:]
        return len(recent) == 20 and all(o[1] == version for o in recent)

    with Load(server.url) as load:
        wait_until(lambda: len(load.outcomes) >= 20, "traffic on version 1")
        moved = time.monotonic()
        models.set_alias("champion", second)  # the release promotes version 2
        wait_until(lambda: all_on(second, moved), "every worker to serve version 2")
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
        wait_until(lambda: all_on(first, rolled_back), "every worker to serve version 1 again")

    failures = [o for o in load.outcomes if o[0] != "200"]
    assert failures == []
    assert len(load.outcomes) > 100
    versions = [o[1] for o in load.outcomes]
    assert set(versions) == {first, second}  # version 3 never answered
    assert all(o[1] == second for o in load.since(broken_at) if o[2] < rolled_back)
    logs = server.logs()
    assert "new model version failed to load; still serving the previous one" in logs
    assert logs.count('"msg": "model version swapped"') >= 4  # 2 workers x (1 -> 2, 2 -> 1)
    assert server.process.pid == pid and server.process.poll() is None  # no restart
    info = server.get("/metrics").text
    assert value(info, "model_server_model_info", version=first) == 1
    assert value(info, "model_server_model_info", version=second) == 0
    print(f"\nalias move -> first answer from version {second}: {first_new - moved:.2f} s; "
          f"-> last answer from version {first}: {last_old - moved:.2f} s "
          f"(MODEL_POLL_SECONDS=0.5, 2 workers, {len(load.outcomes)} requests, 0 failed)")
