"""Session fixtures: moto S3 in server mode (S3 alone), a basic-auth `mlflow server` with artifacts
on it, a Pushgateway, and one small synthetic lake every test reads (generated once; the steps are
idempotent). The release controller's tests (release/) use the same servers."""
from __future__ import annotations

import logging
import os

import boto3
import pytest

from pipeline import s3
from pipeline.__main__ import main

from . import servers

RAW = "s3://lake-raw"
FEATURES = "s3://lake-features"
ARTIFACTS = "s3://mlflow-artifacts"
START = "2026-03-02"  # a Monday
# Small on purpose: the suite runs on 2 shared cores. Train on 5 days, hold out 2.
LAKE = ["--users", "800", "--items", "150", "--events-per-day", "2500", "--segments", "6", "--seed", "11"]
TRAIN_END = "2026-03-07"
HOLDOUT_END = "2026-03-09"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
         "EVIDENTLY_DISABLE_TELEMETRY": "1", "GIT_PYTHON_REFRESH": "quiet"}


def run(*argv: str) -> int:
    """The CLI in-process (one interpreter: torch and Evidently are imported once)."""
    return main(list(argv))


@pytest.fixture(scope="session")
def aws():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log: one line per request
    moto, endpoint = servers.s3()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint, **QUIET}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    s3.client.cache_clear()
    client = boto3.client("s3")
    for bucket in ("lake-raw", "lake-features", "mlflow-artifacts"):
        client.create_bucket(Bucket=bucket)
    yield env
    moto.shutdown()
    moto.server_close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    s3.client.cache_clear()


@pytest.fixture(scope="session")
def mlflow_registry(aws, tmp_path_factory):
    """(tracking URI, auth dir) of the suite's one basic-auth `mlflow server`, artifacts on the moto
    S3: the registry `register` writes to and the release controller moves aliases in."""
    server, url, auth_dir = servers.mlflow_server(tmp_path_factory.mktemp("mlflow"), f"{ARTIFACTS}/experiments",
                                                  {**aws, "MLFLOW_S3_ENDPOINT_URL": aws["AWS_ENDPOINT_URL"]})
    yield url, auth_dir
    server.stop()


@pytest.fixture
def tracking(mlflow_registry, monkeypatch):
    """MLFLOW_TRACKING_URI and MLFLOW_AUTH_DIR (the admin's login) for one test."""
    url, auth_dir = mlflow_registry
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_AUTH_DIR", str(auth_dir))
    return url


@pytest.fixture(scope="session")
def pushgateway_url(tmp_path_factory):
    server, url = servers.pushgateway(tmp_path_factory.mktemp("pushgateway"))
    yield url
    server.stop()


@pytest.fixture(scope="session")
def lake(aws):
    assert run("generate", "--raw", RAW, "--start", START, "--days", "7", *LAKE) == 0
    return RAW
