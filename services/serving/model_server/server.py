"""Gunicorn master with uvicorn workers: one event loop per requested core, each with its model.

Gunicorn rather than uvicorn's own supervisor for its hooks: child_exit lets the multiprocess
metrics drop a dead worker's live gauges, and SIGTERM drains (worker.ModelWorker: DRAIN_SECONDS of
`Connection: close`, then in-flight requests finish within GRACEFUL_TIMEOUT_SECONDS) before the
workers exit (Kubernetes sends SIGTERM, then SIGKILL).
"""
from __future__ import annotations

import logging
import os
import shutil

from gunicorn.app.base import BaseApplication

from . import logs, metrics, worker_readiness
from .settings import Settings

# The app's modules (Starlette, ONNX Runtime, numpy, redis, pydantic) are imported here, in the
# master, and every worker inherits them at fork; the app and its model are still made in each
# worker (preload_app below). A start with two workers took 0.78 s of CPU instead of 1.11 s
# (median of 5, 2026-11-30), and a worker the master replaces starts with its imports done.
from . import app as _app  # noqa: E402,F401

log = logging.getLogger("model_server.server")


def _child_exit(server, worker) -> None:
    metrics.worker_exited(worker.pid)
    worker_readiness.worker_exited(worker.pid)


def _on_exit(server) -> None:
    state_dir = os.environ.get(worker_readiness.ENV)
    if state_dir:
        shutil.rmtree(state_dir, ignore_errors=True)
    log.info("model server stopped")


class ModelServer(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": [f"0.0.0.0:{s.port}"],
            "workers": s.workers,
            "worker_class": "model_server.worker.ModelWorker",
            # Models load inside each worker after fork: ONNX Runtime sessions do not survive fork.
            "preload_app": False,
            "graceful_timeout": s.graceful_timeout_seconds,
            # Longer than the load balancer's idle timeout, so the proxy closes idle connections
            # first and never sends on one we are closing.
            "keepalive": 75,
            "backlog": 2048,
            # A listening socket per worker (SO_REUSEPORT): the kernel spreads connections over the
            # workers by hash. With one shared socket, the worker that wakes first accepts a whole
            # burst of the proxy's long-lived connections and the other worker idles while p99 grows.
            "reuse_port": True,
            "logconfig_dict": logs.config(s.log_level, s.access_log),
            "child_exit": _child_exit,
            "on_exit": _on_exit,
            "proc_name": f"model-server-{s.model_name}",
            # The runtime control socket wants a writable home; nothing in the pod uses it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app

        return create_app(self.settings)
