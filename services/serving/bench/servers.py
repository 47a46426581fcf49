"""Start our server and MLServer on the same model, Redis and port conventions."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tools import loopback_http
from tools.local_processes import free_port, wait_until

SERVING_DIR = Path(__file__).resolve().parents[1]


class Server:
    def __init__(self, label: str, command: list[str], env: dict[str, str], log_path: Path,
                 port: int, ready_path: str):
        self.label, self.command, self.env = label, command, env
        self.log_path, self.port, self.ready_path = log_path, port, ready_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, cwd=SERVING_DIR, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, f"{self.label} to be ready", deadline=300, every=0.5)
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.label} exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return loopback_http.get(self.url + self.ready_path, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cache_env(redis_port: int) -> dict[str, str]:
    return {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port), "CACHE_TTL_SECONDS": "3600"}


def ours(model: Path, redis_port: int, workdir: Path, workers: int) -> Server:
    port = free_port()
    env = {**os.environ, **cache_env(redis_port), "MODEL_NAME": "recsys", "MODEL_URI": str(model),
           "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(port), "WORKERS": str(workers),
           "CPU_REQUEST": "2", "PROMETHEUS_MULTIPROC_DIR": str(workdir / "ours-metrics")}
    return Server("model_server", [sys.executable, "-m", "model_server"], env,
                  workdir / "ours.log", port, "/v2/health/ready")


def mlserver(python: Path, model: Path, redis_port: int, workdir: Path, parallel_workers: int) -> Server:
    repository = workdir / "mlserver"
    (repository / "recsys").mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
                "parallel_workers": parallel_workers, "debug": False,
                "model_repository_root": str(repository)}
    (repository / "settings.json").write_text(json.dumps(settings, indent=2))
    (repository / "recsys" / "model-settings.json").write_text(json.dumps({
        "name": "recsys",
        "implementation": "bench.mlserver_runtime.RecsysRuntime",
        "parameters": {"uri": str(model), "version": "bench"},
    }, indent=2))
    env = {**os.environ, **cache_env(redis_port), "PYTHONPATH": str(SERVING_DIR),
           "ORT_THREADS": "1", "PROMETHEUS_MULTIPROC_DIR": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    mlserver_bin = python.parent / "mlserver"
    return Server("MLServer 1.7.1", [str(mlserver_bin), "start", str(repository)], env,
                  workdir / "mlserver.log", port, "/v2/models/recsys/ready")
