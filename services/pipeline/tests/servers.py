"""Real local servers for the tests: moto (S3, server mode), `mlflow server`, the Pushgateway."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready, what: str, deadline: float = 180.0) -> None:
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if ready():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {deadline:.0f}s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def s3():
    """(werkzeug server, endpoint URL) of moto's S3 backend on a free loopback port, served from a
    thread of this process; `server.shutdown()` stops it.

    Not moto's ThreadedMotoServer: its dispatcher matches every request against the URL patterns of
    every AWS service to find the one it is for, 12% of this suite's own CPU (py-spy, 2026-12-01),
    and these tests call S3 alone. The demo serves the same app (demo/s3_server.py).
    Imported here, not at the top: dags/tests/run_pipeline_e2e.py imports this module in Airflow's
    venv, which has neither moto nor werkzeug."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_backend_app("s3"), threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Process:
    def __init__(self, argv: list[str], workdir: Path, env: dict[str, str], name: str):
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        # A session of its own, stopped as a group: `mlflow server` runs uvicorn as a child process,
        # which passes a SIGTERM on, but a SIGKILL to the CLI alone would leave it serving.
        self.process = subprocess.Popen(argv, cwd=workdir, env={**os.environ, **env}, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.name = name

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=30)
        self._log.close()

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:  # the whole group has already exited
            pass


def mlflow_server(workdir: Path, artifact_root: str, env: dict[str, str]) -> tuple[Process, str, Path]:
    """(process, tracking URI, auth dir) of `mlflow server --app-name basic-auth` on sqlite, logged
    into as the platform's clients are (components/mlflow.py runs the same app). The auth dir holds
    the admin's `username` and `password`, the files MLFLOW_AUTH_DIR names (release-bot, an admin).
    Clients write artifacts to S3 themselves (--no-serve-artifacts)."""
    password = secrets.token_urlsafe(16)
    auth_ini = workdir / "basic_auth.ini"
    auth_ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'auth.db'}\n"
        f"admin_username = release-bot\nadmin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Credential checks cached, as in the serving suite's registry: these tests never rotate a
        # password, and without the cache a request cost the server 19.5 ms of CPU instead of 13
        # (400 registry GETs, even with the cheap hash below; 2026-12-01).
        "auth_cache_ttl_seconds = 60\n")
    auth_dir = workdir / "auth"
    auth_dir.mkdir()
    (auth_dir / "username").write_text("release-bot\n")
    (auth_dir / "password").write_text(password + "\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Process([sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
                      "--port", str(port), "--workers", "1", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
                      "--default-artifact-root", artifact_root, "--no-serve-artifacts"], workdir,
                     # The server imports hundreds of modules; letting it cache their bytecode in the
                     # venv (not the repository) turns a minutes-long start on a busy machine into seconds.
                     # No job runner: a registry has no MLflow jobs, and its huey consumers took ~30 s
                     # of CPU over this suite (2026-11-30).
                     {**env, "PYTHONDONTWRITEBYTECODE": "", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                      "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)},
                     "mlflow")
    wait_until(lambda: server.alive() and http_ok(f"{url}/health"), "the MLflow server", deadline=480)
    _cheap_password_hash(workdir / "auth.db", "release-bot", password)
    return server, url, auth_dir


def _cheap_password_hash(auth_db: Path, username: str, password: str) -> None:
    """Re-hashes the test user's password with 1000 PBKDF2 rounds instead of werkzeug's default scrypt.

    The basic-auth server checks the password on every request it has not cached; scrypt costs
    ~1.6 s per check on the shared test machine, which made each test minutes long. Same check,
    same code path, a cheaper hash of a throwaway password.
    """
    import sqlite3

    from werkzeug.security import generate_password_hash

    with sqlite3.connect(auth_db) as db:
        updated = db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                             (generate_password_hash(password, method="pbkdf2:sha256:1000"), username)).rowcount
    assert updated == 1, f"no user {username} in {auth_db}"


def pushgateway(workdir: Path) -> tuple[Process, str]:
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        raise AssertionError("prometheus-pushgateway is not installed (scripts/install-system-deps.sh installs it)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Debian builds the Pushgateway with --persistence.file=/var/lib/prometheus/pushgateway.data:
    # every instance on the machine would start from (and save to) one shared file. Memory only.
    server = Process([binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
                     workdir, {}, "pushgateway")
    wait_until(lambda: server.alive() and http_ok(f"{url}/-/ready"), "the Pushgateway")
    return server, url
