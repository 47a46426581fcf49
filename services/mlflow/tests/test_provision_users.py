"""The basic-auth setup components/mlflow.py deploys, against a real `mlflow server --app-name
basic-auth` from this image's pins: the init container's provisioning, then what each client may do."""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent
PIPELINE, MODEL_SERVER = ("pipeline", "pipeline-password-0123"), ("model-server", "model-server-pw-4567")
# MLflow's shortest password (provision_users.MIN_PASSWORD_LENGTH), provisioned with the others: a
# provisioning run of its own spent ~6.7 s of CPU (2026-12-01), nearly all of it importing MLflow's
# auth store, against ~0.15 s for one more password hash in the module's run.
EDGE = ("edge-user", "x" * 12)


def call(base: str, path: str, user: tuple[str, str] | None = None, body: dict | None = None) -> int:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    clients = tmp / "clients"
    clients.mkdir()
    for user, password in (PIPELINE, MODEL_SERVER, EDGE):
        (clients / user).write_text(password + "\n")
    # The keys components/mlflow.py's auth_config() writes.
    ini = tmp / "basic_auth.ini"
    ini.write_text("\n".join([
        "[mlflow]", "default_permission = READ", f"database_uri = sqlite:///{tmp}/auth.db", "admin_username = admin",
        "admin_password = admin-password-89ab", "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access = false", ""]))
    # No job runner: these tests ask the auth app for permissions, and MLflow's job consumers (GenAI
    # jobs, trace rollups) took ~28 s of CPU over this suite (2026-11-30) doing nothing for them.
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-key",
           "MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "1", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return tmp, clients, env


def provision(clients: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE / "provision_users.py"), "--clients-dir", str(clients)],
                          env=env, capture_output=True, text=True, timeout=300)


def _answers(base: str) -> bool:
    try:
        return call(base, "/health") == 200
    except urllib.error.URLError as e:
        # Refused: the server is still starting. Anything else is a real failure.
        if isinstance(e.reason, ConnectionRefusedError):
            return False
        raise


@pytest.fixture(scope="module")
def server(setup):
    tmp, clients, env = setup
    first = provision(clients, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["provision_users: edge-user created", "provision_users: model-server created",
                                         "provision_users: pipeline created"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
         "--port", str(port), "--backend-store-uri", f"sqlite:///{tmp}/tracking.db",
         "--default-artifact-root", str(tmp / "artifacts"), "--no-serve-artifacts", "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while not _answers(base):
        assert process.poll() is None, "mlflow server exited"
        assert time.monotonic() < deadline, "mlflow server did not answer /health"
        time.sleep(1)
    yield base
    process.terminate()
    process.wait(timeout=30)


def test_health_stays_open_and_the_api_requires_a_user(server):
    assert call(server, "/health") == 200
    assert call(server, "/api/2.0/mlflow/registered-models/search") == 401
    assert call(server, "/api/2.0/mlflow/registered-models/search", ("pipeline", "wrong-password-000")) == 401


def test_only_the_pipeline_moves_the_champion_alias(server):
    assert call(server, "/api/2.0/mlflow/registered-models/create", PIPELINE, {"name": "recsys"}) == 200
    assert call(server, "/api/2.0/mlflow/registered-models/get?name=recsys", MODEL_SERVER) == 200
    alias = {"name": "recsys", "alias": "champion", "version": "1"}
    assert call(server, "/api/2.0/mlflow/registered-models/alias", MODEL_SERVER, alias) == 403
    assert call(server, "/api/2.0/mlflow/registered-models/create", MODEL_SERVER, {"name": "other"}) == 200  # READ default still creates
    assert call(server, "/api/2.0/mlflow/registered-models/delete", MODEL_SERVER, {"name": "recsys"}) == 403


def test_provisioning_again_rekeys_existing_users(setup, server):
    _, clients, env = setup
    (clients / "model-server").write_text("model-server-rotated-99\n")
    again = provision(clients, env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["provision_users: edge-user updated", "provision_users: model-server updated",
                                         "provision_users: pipeline updated"]
    assert call(server, "/api/2.0/mlflow/registered-models/get?name=recsys", MODEL_SERVER) == 401
    assert call(server, "/api/2.0/mlflow/registered-models/get?name=recsys", ("model-server", "model-server-rotated-99")) == 200


@pytest.mark.parametrize("content,problem", [("short", "password has 5 characters; MLflow needs at least 12"),
                                              ("x" * 11, "password has 11 characters")])
def test_bad_client_file_exits_2_with_one_line(tmp_path, setup, content, problem):
    _, _, env = setup
    (tmp_path / "pipeline").write_text(content)
    result = provision(tmp_path, env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and problem in result.stderr and str(tmp_path / "pipeline") in result.stderr


def test_twelve_characters_are_enough(server):
    # Provisioned by the module's first run (the server fixture checks it said "created"), and
    # MLflow takes it: the user logs in with all twelve.
    assert call(server, "/api/2.0/mlflow/registered-models/search", EDGE) == 200
    assert call(server, "/api/2.0/mlflow/registered-models/search", (EDGE[0], EDGE[1][:11])) == 401
