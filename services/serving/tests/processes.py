"""The model server as the tests start it; redis-server and port helpers come from tools."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tools import loopback_http
from tools.local_processes import RedisServer, free_port, wait_until  # noqa: F401 (re-exported)

SERVING_DIR = Path(__file__).resolve().parents[1]


class ModelServer:
    """`python -m model_server` as the image runs it, with the platform's env vars."""

    def __init__(self, logdir: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logdir / f"model-server-{self.port}.log"
        self.env = {
            **os.environ,
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(self.port),
            "WORKERS": "2",
            "MODEL_NAME": "recsys",
            "MODEL_LOAD_RETRY_SECONDS": "0.2",
            "DRAIN_SECONDS": "0.5",
            "PROMETHEUS_MULTIPROC_DIR": str(logdir / f"metrics-{self.port}"),
            "MODEL_CACHE_DIR": str(logdir / f"model-cache-{self.port}"),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True) -> "ModelServer":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "model_server"], cwd=SERVING_DIR, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_until(self._live, f"model server on port {self.port} to be live")
        if wait_ready:
            wait_until(self.is_ready, f"model server on port {self.port} to be ready")
        return self

    def _live(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"model server exited with {self.process.returncode}:\n{self.logs()}")
        try:
            return loopback_http.get(f"{self.url}/v2/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def is_ready(self) -> bool:
        return self.get("/v2/health/ready").status_code == 200

    def get(self, path: str, **kwargs) -> httpx.Response:
        return loopback_http.get(self.url + path, timeout=10, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return loopback_http.request(method, self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return loopback_http.post(self.url + path, timeout=10, **kwargs)

    def infer(self, customer_ids: list[str], k: int | None = None) -> httpx.Response:
        body = {"inputs": [{"name": "customer_id", "shape": [len(customer_ids)], "datatype": "BYTES",
                            "data": customer_ids}]}
        if k is not None:
            body["parameters"] = {"k": k}
        return self.post("/v2/models/recsys/infer", json=body)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM, as Kubernetes sends it; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
