"""The local platform: real services on loopback, each in a process group of its own, on free ports.

  moto S3 (demo/s3_server.py) the lake, the features, MLflow's artifacts, the pipeline's work files
  mlflow server (basic-auth)  sqlite registry, artifacts on the moto S3, a release-bot login as in the cluster
  redis-server                the serving cache
  prometheus-pushgateway      the pipeline's and the release controller's gauges
  model servers x2            the serving image's code: stable (@champion) and canary (@challenger)
  executor stand-in           demo/executor.py: the canary split and the executor's histogram
  prometheus                  scrapes all of the above every second with the platform's rule files
  step server                 demo/step_server.py: `python -m pipeline <step>` forked from a warm
                              interpreter; `pipeline_python` is the launcher the Airflow worker runs

Platform.stop() ends every process group it started, in reverse order; a second run starts clean.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from demo.step_client import write_launcher

REPO = Path(__file__).resolve().parents[1]
PIPELINE_PYTHON = REPO / "services" / "pipeline" / ".venv" / "bin" / "python"
SERVING_PYTHON = REPO / "services" / "serving" / ".venv" / "bin" / "python"
BUCKETS = ("lake-raw", "lake-features", "mlflow-artifacts", "pipeline-work")
REGION = "us-east-1"
MLFLOW_USER = "release-bot"
# One-second scrapes and rule evaluations: the demo's canary windows are tens of seconds, and
# rate() needs a few samples inside one (the cluster scrapes every 30 s over 5-minute windows).
SCRAPE_SECONDS = 1
# How often the model servers look at the registry aliases (the cluster's default is 30 s).
MODEL_POLL_SECONDS = 2


class PlatformError(RuntimeError):
    """A service did not start; the message names it and ends with its log's last line."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


# The platform's binaries, each by its Debian name (then upstream's); all found before any starts.
TOOLS = (("redis-server",), ("prometheus-pushgateway", "pushgateway"), ("prometheus",), ("promtool",))


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    def last_line(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
        return lines[-1][-300:] if lines else "(no output)"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass


@dataclass
class Platform:
    work: Path
    model: str
    canary_percent: float
    services: list[Service] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    pipeline_python: Path = PIPELINE_PYTHON
    _step_socket: Path | None = field(default=None, repr=False)
    tools: dict[str, str] = field(default_factory=dict)

    # --- lifecycle -------------------------------------------------------------------
    def check_tools(self) -> None:
        """Finds every binary of TOOLS on PATH; PlatformError names the first missing one. Called
        before anything starts, so a missing tool leaves nothing half-started to tear down."""
        self.tools = {names[0]: _tool(*names) for names in TOOLS}

    def start(self) -> None:
        """Starts every service and waits until each answers; PlatformError names the one that did not."""
        if not self.tools:
            self.check_tools()
        self.work.mkdir(parents=True, exist_ok=True)
        s3 = self._url("s3")
        self.env = {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION, "AWS_ENDPOINT_URL": s3, "MLFLOW_S3_ENDPOINT_URL": s3,
            # No library phones home from the demo.
            "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1",
            "SCARF_ANALYTICS": "false", "GIT_PYTHON_REFRESH": "quiet",
            "PYTHONPATH": f"{REPO / 'services' / 'pipeline'}:{REPO}",
        }
        self._spawn("moto", [str(PIPELINE_PYTHON), "-m", "demo.s3_server", "--port", _port(s3)])
        self._spawn("redis", [self.tools["redis-server"], "--bind", "127.0.0.1", "--port", _port(self._url("redis")),
                              "--save", "", "--appendonly", "no"])
        # In memory only: Debian's default persistence file is shared by every Pushgateway on the
        # machine, and would hand this run another run's release decisions.
        self._spawn("pushgateway", [self.tools["prometheus-pushgateway"], "--persistence.file=",
                                    f"--web.listen-address=127.0.0.1:{_port(self._url('pushgateway'))}"])
        self._start_step_server()
        self._wait("moto", f"{s3}/")  # S3's ListBuckets
        self._create_buckets()
        self._start_mlflow()
        self._wait("pushgateway", f"{self.urls['pushgateway']}/-/ready")
        self._start_serving()
        self._start_prometheus()
        self.env |= {"MLFLOW_TRACKING_URI": self.urls["mlflow"], "MLFLOW_AUTH_DIR": str(self.work / "mlflow-auth"),
                     "PUSHGATEWAY_URL": self.urls["pushgateway"], "PROMETHEUS_URL": self.urls["prometheus"]}
        self._wait("mlflow", f"{self.urls['mlflow']}/health", deadline=300)
        self._cheap_password_hash()
        for name in ("stable", "canary"):
            self._wait(f"model server {name}", f"{self.urls[name]}/v2/health/live")
        self._wait("executor", f"{self.urls['executor']}/prometheus")
        self._wait("prometheus", f"{self.urls['prometheus']}/-/ready")
        self._wait("steps", str(self._step_socket), ready=lambda: unix_socket_accepts(self._step_socket))
        self.pipeline_python = self.work / "pipeline-python"
        write_launcher(self.pipeline_python, self._step_socket, str(PIPELINE_PYTHON), REPO)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
        if self._step_socket is not None:
            shutil.rmtree(self._step_socket.parent, ignore_errors=True)

    # --- services --------------------------------------------------------------------
    def _url(self, name: str) -> str:
        self.urls[name] = f"http://127.0.0.1:{free_port()}"
        return self.urls[name]

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Service:
        log = self.work / f"{name}.log"
        # A session of its own: mlflow and uvicorn fork workers, and stop() must reach them too.
        process = subprocess.Popen(argv, cwd=self.work, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                   env={**os.environ, **self.env, **(env or {})}, start_new_session=True)
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def _wait(self, name: str, url: str, deadline: float = 120.0, ready: Callable[[], bool] | None = None) -> None:
        service = next((s for s in self.services if name.endswith(s.name) or s.name == name), None)
        stop = time.monotonic() + deadline
        while time.monotonic() < stop:
            if service is not None and service.process.poll() is not None:
                raise PlatformError(f"{service.name} exited with {service.process.returncode}: {service.last_line()}")
            if ready() if ready is not None else http_ok(url):
                return
            time.sleep(0.3)
        raise PlatformError(f"{name} did not answer {url} within {deadline:.0f} s"
                            + (f": {service.last_line()}" if service else ""))

    def _create_buckets(self) -> None:
        code = f"import boto3\nfor b in {BUCKETS!r}: boto3.client('s3').create_bucket(Bucket=b)"
        done = subprocess.run([str(PIPELINE_PYTHON), "-c", code], env={**os.environ, **self.env},
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PlatformError(f"creating the S3 buckets failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")

    def _start_mlflow(self) -> None:
        """`mlflow server --app-name basic-auth` as the platform's MLflow image runs it: every client
        (pipeline steps, release controller, model servers) logs in through MLFLOW_AUTH_DIR."""
        password = secrets.token_urlsafe(16)
        auth_dir = self.work / "mlflow-auth"
        auth_dir.mkdir()
        (auth_dir / "username").write_text(MLFLOW_USER + "\n")
        (auth_dir / "password").write_text(password + "\n")
        self._auth_db = self.work / "mlflow-auth.db"
        ini = self.work / "basic_auth.ini"
        ini.write_text("[mlflow]\ndefault_permission = READ\n"
                       f"database_uri = sqlite:///{self._auth_db}\n"
                       f"admin_username = {MLFLOW_USER}\nadmin_password = {password}\n"
                       "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                       # Credential checks cached, as in the pipeline's and the serving image's test
                       # registries: the demo never rotates a password, and each of its ~400
                       # requests otherwise checks the hash and reads the user again.
                       "auth_cache_ttl_seconds = 60\n")
        self._password = password
        url = self._url("mlflow")
        self._spawn("mlflow", [str(PIPELINE_PYTHON), "-m", "mlflow", "server", "--app-name", "basic-auth",
                               "--backend-store-uri", f"sqlite:///{self.work / 'mlflow.db'}",
                               "--default-artifact-root", "s3://mlflow-artifacts/experiments",
                               "--no-serve-artifacts", "--host", "127.0.0.1", "--port", _port(url), "--workers", "1"],
                    # Bytecode cached in the venv: the server imports hundreds of modules.
                    {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
                     "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONDONTWRITEBYTECODE": ""})

    def _cheap_password_hash(self) -> None:
        """The demo's throwaway password re-hashed with 1000 PBKDF2 rounds instead of werkzeug's scrypt.

        The basic-auth app checks the password on every request, and two model servers poll the
        registry every MODEL_POLL_SECONDS: scrypt's ~1.5 s per check on two shared cores would
        take a core. Same check and code path; the cluster keeps the default hash.
        """
        from werkzeug.security import generate_password_hash

        with sqlite3.connect(self._auth_db) as db:
            updated = db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                                 (generate_password_hash(self._password, method="pbkdf2:sha256:1000"),
                                  MLFLOW_USER)).rowcount
        if updated != 1:
            raise PlatformError(f"mlflow: no user {MLFLOW_USER} in {self._auth_db}")

    def _start_step_server(self) -> None:
        # Started early: its imports (about 10 s of CPU) overlap the other services' start.
        self._step_socket = step_socket_path()
        self._spawn("steps", [str(PIPELINE_PYTHON), "-m", "demo.step_server", "--socket", str(self._step_socket)])

    def _start_serving(self) -> None:
        redis = self.urls["redis"]
        for predictor, alias in (("stable", "champion"), ("canary", "challenger")):
            url = self._url(predictor)
            self._spawn(predictor, [str(SERVING_PYTHON), "-m", "model_server"], {
                "PYTHONPATH": str(REPO / "services" / "serving"),
                "MODEL_NAME": self.model, "MODEL_URI": f"models:/{self.model}@{alias}",
                "MLFLOW_TRACKING_URI": self.urls["mlflow"], "MLFLOW_AUTH_DIR": str(self.work / "mlflow-auth"),
                "MODEL_CACHE_DIR": str(self.work / f"model-cache-{predictor}"),
                "MODEL_POLL_SECONDS": str(MODEL_POLL_SECONDS), "MODEL_LOAD_RETRY_SECONDS": "2",
                "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": _port(url), "WORKERS": "1", "CPU_REQUEST": "1",
                "REDIS_HOST": "127.0.0.1", "REDIS_PORT": _port(redis),
                "PROMETHEUS_MULTIPROC_DIR": str(self.work / f"metrics-{predictor}")})
        executor = self._url("executor")
        self._spawn("executor", [str(SERVING_PYTHON), "-m", "demo.executor", "--port", _port(executor),
                                 "--stable", self.urls["stable"], "--canary", self.urls["canary"],
                                 "--canary-percent", f"{self.canary_percent:g}", "--deployment", self.model],
                    {"PYTHONPATH": str(REPO)})

    def _start_prometheus(self) -> None:
        rules = [str(path) for path in sorted((REPO / "observability" / "rules").glob("*.yaml"))]
        model_rules = self.work / f"model-{self.model}.rules.yaml"
        model_rules.write_text(yaml.safe_dump(_model_rule_groups(self.model), sort_keys=False))
        rules.append(str(model_rules))
        # `namespace` and `pod` come from the scrape, as the PodMonitors add them in the cluster.
        target = lambda name, path, labels: {  # noqa: E731
            "job_name": name, "metrics_path": path, "honor_labels": name == "pushgateway",
            "static_configs": [{"targets": [self.urls[name].removeprefix("http://")], "labels": labels}]}
        namespace = {"namespace": self.model}
        config = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
            "rule_files": rules,
            "scrape_configs": [
                target("executor", "/prometheus", namespace | {"pod": f"{self.model}-executor"}),
                target("stable", "/metrics", namespace | {"pod": f"{self.model}-stable"}),
                target("canary", "/metrics", namespace | {"pod": f"{self.model}-canary"}),
                target("pushgateway", "/metrics", {}),
            ],
        }
        config_file = self.work / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        check = subprocess.run([self.tools["promtool"], "check", "config", str(config_file)], capture_output=True, text=True)
        if check.returncode != 0:
            raise PlatformError(f"promtool rejects {config_file}: {(check.stderr or check.stdout).strip().splitlines()[-1]}")
        url = self._url("prometheus")
        self._spawn("prometheus", [self.tools["prometheus"], f"--config.file={config_file}",
                                   f"--storage.tsdb.path={self.work / 'prometheus'}",
                                   f"--web.listen-address=127.0.0.1:{_port(url)}"])


def _model_rule_groups(model: str) -> dict:
    """The model's rule file as the platform renders it (components/observability.py), from its model file."""
    from observability.model_rules import model_rule_groups

    doc = yaml.safe_load((REPO / "models" / f"{model}.yaml").read_text())
    return model_rule_groups(model, model, doc["alerting"]["team"], float(doc["slo"]["availability"]),
                             doc["slo"]["p99LatencyMs"] / 1000)


def step_socket_path() -> Path:
    """Where the step server listens: `steps.sock` in a new private (0700) folder under the
    temporary directory, which Platform.stop() removes.

    Not in the work folder: a Unix socket's path may not exceed 107 bytes (sun_path), and
    <checkout>/build/test-demo/work/platform/steps.sock would not bind under a checkout path of
    more than 66 characters (GitHub Actions checks out at /home/runner/work/<repo>/<repo>)."""
    return Path(tempfile.mkdtemp(prefix="mlops-steps-")) / "steps.sock"


def unix_socket_accepts(path: Path) -> bool:
    """Whether a server listens on the Unix socket at `path` (a connect that is closed at once)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise PlatformError(f"{names[0]} is not installed: run scripts/install-system-deps.sh")
