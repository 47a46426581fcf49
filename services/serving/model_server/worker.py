"""The gunicorn worker: uvicorn's, but it listens only once its model is loaded, and it drains.

Listening: gunicorn opens each worker's SO_REUSEPORT socket right after the fork, and the kernel
starts handing that socket connections at once. A worker restarted next to serving siblings (after
a crash or an OOM kill) would take its share of new connections while its model loads and answer
them 503. So such a worker gets no socket at the fork, loads and warms up its model, and only then
opens its socket. The choice is made as the worker is forked, before gunicorn would open the
socket: a socket opened and then closed resets the connections the kernel queued on it in between
(a readiness probe was reset so at a pod's start on a loaded machine, 2026-12-01). A worker with no
ready sibling (the pod is starting, or every worker's load fails) listens at once: nothing is
served then anyway, and the readiness endpoints say why.

Draining: on SIGTERM the worker keeps serving for DRAIN_SECONDS with `Connection: close` on every
response (drain.ResponseHeaders), then shuts down the uvicorn way: stop accepting, close idle
connections, finish in-flight requests within GRACEFUL_TIMEOUT_SECONDS.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

from gunicorn import sock
from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from . import drain, worker_readiness

log = logging.getLogger("model_server.worker")

GUNICORN_CREATE_SOCKETS = sock.create_sockets

# Set in each process gunicorn forks, before it opens the worker's socket (Arbiter.spawn_worker):
# whether a sibling was serving at the fork. The master never sets it.
_listen_after_load = False


def _decide_at_fork() -> None:
    global _listen_after_load
    _listen_after_load = bool(worker_readiness.ready_workers())


def create_sockets(conf, log, fds=None):
    """`gunicorn.sock.create_sockets`, which the arbiter calls in each new worker right after the
    fork when reuse_port is on: no socket for a worker that listens only once loaded (it opens
    its own then, `ModelWorker._load_then_listen`); otherwise gunicorn's sockets."""
    if _listen_after_load and fds is None:
        return []
    return GUNICORN_CREATE_SOCKETS(conf, log, fds)


# This module is imported in the master (gunicorn loads the worker class before it forks), so
# every worker it forks decides, and the arbiter's `sock.create_sockets` is this one.
os.register_at_fork(after_in_child=_decide_at_fork)
sock.create_sockets = create_sockets


class DrainingServer(Server):
    def __init__(self, config, drain_seconds: float):
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._drain_until: float | None = None

    def handle_exit(self, sig, frame) -> None:
        if sig == signal.SIGTERM and self._drain_seconds > 0:
            if self._drain_until is None:
                self._captured_signals.append(sig)
                self._drain_until = time.monotonic() + self._drain_seconds
                drain.begin()
                log.info("SIGTERM: draining", extra={"drain_seconds": self._drain_seconds})
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and time.monotonic() >= self._drain_until:
            self.should_exit = True
        return await super().on_tick(counter)


class ModelWorker(UvicornWorker):
    def init_process(self) -> None:
        self._listen_after_load = _listen_after_load
        super().init_process()

    async def _load_then_listen(self) -> None:
        state = self.wsgi.state.model
        started = time.perf_counter()
        loading = asyncio.ensure_future(state.load())
        while not loading.done():
            self.notify()  # the master's worker timeout: a large model may load for a while
            await asyncio.wait({loading}, timeout=1.0)
        loading.result()
        self.sockets = GUNICORN_CREATE_SOCKETS(self.cfg, self.log)
        log.info("model loaded before listening (siblings were serving)",
                 extra={"wait_seconds": round(time.perf_counter() - started, 3)})

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        if self._listen_after_load:
            await self._load_then_listen()
        server = DrainingServer(self.config, self.wsgi.state.model.settings.drain_seconds)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
