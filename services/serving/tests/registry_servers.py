"""The MLflow registry the platform runs, locally: moto's S3 in server mode and `mlflow server
--app-name basic-auth` (sqlite) writing its artifacts there; and the registry as the training
pipeline and the release controller write it (Registry).

Started once per process, not per pytest session: a mutation run (mutmut, fork per mutant) starts
a pytest session per mutant in a child forked from the process that ran the stats session, and an
MLflow start (two sqlite migrations) would otherwise cost every mutant seconds. The process that
started the servers stops them when it exits; a forked child reuses them and never stops them.
Tests name their registered models uniquely (unique_name) because a registry outlives a session.
"""
from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx

from tools import loopback_http

from .processes import free_port, wait_until

BUCKET = "mlops-models"
ADMIN, PASSWORD = "admin", "test-admin-password-1"


@dataclass(frozen=True)
class RegistryServers:
    url: str  # MLFLOW_TRACKING_URI
    s3_env: dict[str, str]  # what a client of that S3 needs: keys, region, MLFLOW_S3_ENDPOINT_URL
    workdir: Path


_started: RegistryServers | None = None
_names = itertools.count(1)


def _start(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        # Its own process group: mlflow forks a uvicorn worker that must go with it.
        return subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _answers(process: subprocess.Popen, url: str, log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"{process.args[:3]} exited with {process.returncode}:\n{log.read_text()}")
    try:
        return loopback_http.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def registry_servers() -> RegistryServers:
    """moto S3 and the basic-auth MLflow registry, started on first use in this process."""
    global _started
    if _started is not None:
        return _started
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-registry-"))
    owner = os.getpid()
    processes: list[subprocess.Popen] = []

    def stop_all() -> None:
        if os.getpid() != owner:  # a forked child: the servers belong to its parent
            return
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop_all)
    s3_port, mlflow_port = free_port(), free_port()
    s3_env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
              "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}"}
    processes.append(_start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
                            {}, workdir / "moto.log", workdir))
    wait_until(lambda: _answers(processes[0], f"{s3_env['MLFLOW_S3_ENDPOINT_URL']}/moto-api/", workdir / "moto.log"),
               "moto's S3 server")
    boto3.client("s3", endpoint_url=s3_env["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)

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
    url = f"http://127.0.0.1:{mlflow_port}"
    processes.append(_start(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
         "--port", str(mlflow_port), "--workers", "1", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
         "--default-artifact-root", f"s3://{BUCKET}/mlflow", "--no-serve-artifacts"],
        # The auth app refuses to start without a fixed key for its CSRF tokens; the job runner
        # (one more process importing mlflow) has nothing to do for a registry.
        {**s3_env, "MLFLOW_AUTH_CONFIG_PATH": str(auth_config), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key",
         "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        workdir / "mlflow.log", workdir))
    # A deadline, not a timing: the first start migrates two sqlite stores (tracking and auth).
    wait_until(lambda: _answers(processes[1], f"{url}/health", workdir / "mlflow.log"), "the MLflow server",
               deadline=900)
    _started = RegistryServers(url=url, s3_env=s3_env, workdir=workdir)
    return _started


def unique_name(prefix: str) -> str:
    """A registered-model name no other test or session of this registry has used."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


def write_auth_dir(directory: Path, username: str = ADMIN, password: str = PASSWORD) -> Path:
    """The mounted Secret MLFLOW_AUTH_DIR names: files `username` and `password`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "username").write_text(username)
    (directory / "password").write_text(password)
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

    @contextlib.contextmanager
    def _environment(self):
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

    def add_version(self, path) -> str:
        with self._environment():
            run = self.client.create_run(self.experiment)
            self.client.log_artifact(run.info.run_id, str(path), artifact_path="model")
            return self.client.create_model_version(self.name, source=f"{run.info.artifact_uri}/model",
                                                    run_id=run.info.run_id).version

    def set_alias(self, alias: str, version: str) -> None:
        with self._environment():
            self.client.set_registered_model_alias(self.name, alias, version)

    def delete_alias(self, alias: str) -> None:
        with self._environment():
            self.client.delete_registered_model_alias(self.name, alias)
