from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tools.build_recsys_model import build

from .processes import ModelServer, RedisServer

NUM_CUSTOMERS = 500
NUM_ITEMS = 300


_models: dict[int, Path] = {}


def _model(seed: int) -> Path:
    # Built once per process and only read by the tests: a mutation run forks a pytest session
    # per mutant from the process that ran the stats session, and inherits the files.
    if seed not in _models:
        directory = Path(tempfile.mkdtemp(prefix=f"recsys-model-{seed}-"))
        owner = os.getpid()
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(directory, ignore_errors=True))
        _models[seed] = build(directory / "recsys.onnx", NUM_CUSTOMERS, NUM_ITEMS, dim=16, seed=seed)
    return _models[seed]


@pytest.fixture(scope="session")
def model_path():
    return _model(1)


@pytest.fixture(scope="session")
def other_model_path():
    """Same shape, other weights: what a new version of the model looks like."""
    return _model(2)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def start_server(tmp_path):
    """Start model servers for one test; every one is stopped (SIGTERM) at the end."""
    started: list[ModelServer] = []

    def start(env: dict[str, str], wait_ready: bool = True) -> ModelServer:
        server = ModelServer(tmp_path, env)
        started.append(server)
        return server.start(wait_ready=wait_ready)

    yield start
    for server in started:
        server.terminate()


def cache_env(redis_server: RedisServer) -> dict[str, str]:
    # A timeout far above the production 50 ms: on a busy CI machine a healthy local Redis can take
    # longer, and a test that counts hits and misses must not see a timeout counted as an error.
    return {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
            "CACHE_TTL_SECONDS": "600", "CACHE_TIMEOUT_SECONDS": "1"}


@pytest.fixture(scope="session")
def registry_servers():
    """moto S3 and `mlflow server --app-name basic-auth`; see registry_servers.py for their lifetime."""
    from .registry_servers import registry_servers as start

    return start()


@pytest.fixture(scope="session")
def registry(registry_servers) -> str:
    """MLFLOW_TRACKING_URI of the registry."""
    return registry_servers.url


@pytest.fixture(scope="session")
def s3_env(registry_servers) -> dict[str, str]:
    """Credentials, region and MLFLOW_S3_ENDPOINT_URL of the registry's artifact store."""
    return registry_servers.s3_env


@pytest.fixture
def auth_dir(tmp_path):
    """The mounted Secret MLFLOW_AUTH_DIR names, with the registry admin's login."""
    from .registry_servers import write_auth_dir

    return write_auth_dir(tmp_path / "mlflow-auth")
