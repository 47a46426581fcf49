"""Real local services for the release controller's tests: Prometheus (Debian's package) over
recorded executor series, the Pushgateway, moto's S3 in server mode and an `mlflow server`
(sqlite registry, artifacts on the moto S3, basic authentication as the controller logs in)."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PIPELINE = Path(__file__).resolve().parents[2]
REPO = PIPELINE.parents[1]
for path in (str(PIPELINE), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from recorded import openmetrics  # noqa: E402

from tests import servers  # noqa: E402 (the pipeline tests' server harness: free ports, the Pushgateway)

BUCKET = "mlflow-artifacts"


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: run scripts/install-system-deps.sh"
    return path


# Generous: the test machine is shared, and `mlflow server` alone takes ~30 s to import there.
def _wait_ready(url: str, process: subprocess.Popen, log: Path, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args[0]} exited: {log.read_text()[-2000:]}"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready after {seconds}s: {log.read_text()[-2000:]}")


def _start(args: list[str], ready_url: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    # A session of its own: `mlflow server` forks workers, and stopping must reach them too.
    process = subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_ready(ready_url, process, log)
    except BaseException:  # not ready, or the run interrupted: leave nothing running
        _stop(process)
        raise
    return process


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def prometheus_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("prometheus")
    recorded = work / "recorded.om.txt"
    recorded.write_text(openmetrics())
    data = work / "data"
    backfill = subprocess.run([_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(recorded), str(data)],
                              capture_output=True, text=True, timeout=300)
    assert backfill.returncode == 0, backfill.stderr[-2000:]
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start([_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data}",
                      f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
                     f"{url}/-/ready", work / "prometheus.log")
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def pushgateway_url(tmp_path_factory):
    server, url = servers.pushgateway(tmp_path_factory.mktemp("pushgateway"))
    yield url
    server.stop()


@pytest.fixture(scope="session")
def s3_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("moto")
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                     f"{url}/moto-api/", work / "moto.log")
    yield url
    _stop(process)


def _cheap_password_hash(auth_db: Path, username: str, password: str) -> None:
    """Re-hashes the test user's password with 1000 PBKDF2 rounds instead of werkzeug's default scrypt.

    The basic-auth server checks the password on every request; scrypt costs ~1.6 s per check on
    the shared test machine, which made each test minutes long. Same check, same code path,
    a cheaper hash of a throwaway password.
    """
    import sqlite3

    from werkzeug.security import generate_password_hash

    with sqlite3.connect(auth_db) as db:
        updated = db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                             (generate_password_hash(password, method="pbkdf2:sha256:1000"), username)).rowcount
    assert updated == 1, f"no user {username} in {auth_db}"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, s3_url):
    """(tracking URI, auth dir) of a basic-auth `mlflow server` whose artifacts live on moto S3."""
    import boto3

    work = tmp_path_factory.mktemp("mlflow")
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
           "MLFLOW_S3_ENDPOINT_URL": s3_url}
    boto3.client("s3", endpoint_url=s3_url, region_name="eu-west-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    password = secrets.token_urlsafe(16)
    auth_ini = work / "basic_auth.ini"
    auth_ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{work / 'auth.db'}\n"
        f"admin_username = release-bot\nadmin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Credential checks cached, as in the serving suite's registry: these tests never rotate a
        # password, and without the cache a request cost the server 19.5 ms of CPU instead of 13
        # (400 registry GETs, even with the cheap hash below; 2026-12-01).
        "auth_cache_ttl_seconds = 60\n")
    auth_dir = work / "auth"
    auth_dir.mkdir()
    (auth_dir / "username").write_text("release-bot\n")
    (auth_dir / "password").write_text(password + "\n")
    port = servers.free_port()
    uri = f"http://127.0.0.1:{port}"
    # No job executor: the registry needs none, and its worker processes cost a shared machine.
    env = {**os.environ, **aws, "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
           "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    process = _start([mlflow_bin, "server", "--app-name", "basic-auth",
                      "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
                      "--default-artifact-root", f"s3://{BUCKET}/experiments", "--no-serve-artifacts",
                      "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                     f"{uri}/health", work / "mlflow.log", env=env)
    _cheap_password_hash(work / "auth.db", "release-bot", password)
    for key, value in aws.items():
        os.environ[key] = value
    yield uri, auth_dir
    _stop(process)
