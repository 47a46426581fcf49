"""models:/recsys@champion through a real MLflow registry (sqlite) with the artifact on S3 (moto)."""
from __future__ import annotations

import os
import subprocess
import sys

import boto3
import httpx
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from model_server.recommender import Recommender

from .metrics_text import value
from .processes import free_port, wait_until

BUCKET = "mlops-models"


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
    """`mlflow server` on sqlite; clients write artifacts to S3 themselves (--no-serve-artifacts)."""
    workdir = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(workdir / "mlflow.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
         "--default-artifact-root", f"s3://{BUCKET}/mlflow", "--no-serve-artifacts"],
        env={**os.environ, **s3_env}, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )

    def up():
        if process.poll() is not None:
            raise AssertionError((workdir / "mlflow.log").read_text())
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, "the MLflow server", deadline=120)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


def register(tracking_uri: str, s3_env: dict, model_paths: list, champion: int) -> None:
    from mlflow import MlflowClient

    old = {k: os.environ.get(k) for k in s3_env}
    os.environ.update(s3_env)
    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        experiment = client.create_experiment("recsys-training")
        client.create_registered_model("recsys")
        for path in model_paths:
            run = client.create_run(experiment)
            client.log_artifact(run.info.run_id, str(path), artifact_path="model")
            client.create_model_version("recsys", source=f"{run.info.artifact_uri}/model",
                                        run_id=run.info.run_id)
        client.set_registered_model_alias("recsys", "champion", str(champion))
    finally:
        for key, previous in old.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous


def test_champion_alias_is_resolved_fetched_from_s3_and_served(
        registry, s3_env, model_path, other_model_path, start_server):
    # Version 1 is the old model, version 2 the champion: the alias, not "latest", decides.
    register(registry, s3_env, [model_path, other_model_path], champion=2)
    server = start_server({"MODEL_URI": "models:/recsys@champion", "MLFLOW_TRACKING_URI": registry,
                           "REDIS_HOST": "", **s3_env})

    assert server.get("/v2/models/recsys").json()["versions"] == ["2"]
    served = server.infer([3, 4], k=5).json()
    assert served["model_version"] == "2"
    champion, _ = Recommender(other_model_path).recommend(np.array([3, 4], dtype=np.int64), 5)
    assert served["outputs"][0]["data"] == champion.item_ids.ravel().tolist()
    assert value(server.get("/metrics").text, "model_server_model_info",
                 model="recsys", version="2", source="mlflow") == 1
    assert '"source": "mlflow"' in server.logs()


def test_unknown_alias_leaves_the_pod_not_ready(registry, s3_env, start_server):
    server = start_server({"MODEL_URI": "models:/recsys@nonexistent", "MLFLOW_TRACKING_URI": registry,
                           "REDIS_HOST": "", **s3_env}, wait_ready=False)
    wait_until(lambda: "MLflow registry answered" in server.get("/v2/health/ready").text,
               "the registry lookup to fail")
    assert server.get("/v2/health/ready").status_code == 400
    assert server.infer([1]).status_code == 503
