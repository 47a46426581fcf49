"""The gunicorn worker in this process: pod readiness markers, listening only once the model is
loaded when siblings serve, and the SIGTERM drain (DRAIN_SECONDS of `Connection: close`, then the
uvicorn shutdown) on a real socket. test_shutdown.py and test_readiness.py run the same through
the entry point and gunicorn; here a mutation tool sees which code each test reaches."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import types

import httpx
import pytest
from gunicorn import glogging, sock
from gunicorn.config import Config as GunicornConfig
from uvicorn import Config as UvicornConfig
from uvicorn_worker import UvicornWorker

from model_server import drain, settings, worker, worker_readiness
from model_server.app import create_app
from model_server.worker import DrainingServer, ModelWorker
from tools import loopback_http

from .processes import free_port, wait_until


@pytest.fixture(autouse=True)
def not_draining(monkeypatch):
    """drain's flag is per process; every test starts with a worker that is not draining."""
    monkeypatch.setattr(drain, "_draining", False)


@pytest.fixture
def worker_dir(tmp_path, monkeypatch):
    directory = tmp_path / "workers"
    directory.mkdir()
    monkeypatch.setenv(worker_readiness.ENV, str(directory))
    return directory


def test_readiness_markers_count_the_warmed_up_workers(worker_dir):
    assert worker_readiness.ready_workers() == 0
    worker_readiness.mark_ready(101)
    worker_readiness.mark_ready(102)
    worker_readiness.mark_ready(102)  # a marker per worker, not per call
    assert sorted(p.name for p in worker_dir.iterdir()) == ["ready-101", "ready-102"]
    assert worker_readiness.ready_workers() == 2
    worker_readiness.worker_exited(101)
    worker_readiness.worker_exited(101)  # child_exit for a worker that never got ready: no error
    worker_readiness.worker_exited(103)
    assert worker_readiness.ready_workers() == 1
    assert sorted(p.name for p in worker_dir.iterdir()) == ["ready-102"]


def test_outside_the_entry_point_readiness_is_not_counted(tmp_path, monkeypatch):
    monkeypatch.delenv(worker_readiness.ENV, raising=False)
    assert worker_readiness.ready_workers() is None
    worker_readiness.mark_ready(7)
    worker_readiness.worker_exited(7)
    monkeypatch.setenv(worker_readiness.ENV, "")  # set but empty: the same
    assert worker_readiness.ready_workers() is None


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(worker, "time", types.SimpleNamespace(monotonic=clock.monotonic))
    return clock


def draining_server(drain_seconds: float) -> DrainingServer:
    return DrainingServer(UvicornConfig(app=None), drain_seconds)


def tick(server: DrainingServer) -> bool:
    return asyncio.run(server.on_tick(1))


def test_sigterm_drains_for_drain_seconds_then_exits(clock):
    server = draining_server(3.0)
    server.handle_exit(signal.SIGTERM, None)
    assert (server.should_exit, drain.draining()) == (False, True)
    assert server._captured_signals == [signal.SIGTERM]  # re-raised after the shutdown, as uvicorn does
    clock.now += 2.999
    assert tick(server) is False and server.should_exit is False
    server.handle_exit(signal.SIGTERM, None)  # a second SIGTERM neither restarts nor shortens the drain
    assert server._captured_signals == [signal.SIGTERM]
    clock.now += 0.001  # exactly DRAIN_SECONDS after the first SIGTERM
    assert tick(server) is True and server.should_exit is True


def test_without_sigterm_the_worker_keeps_serving(clock):
    server = draining_server(3.0)
    clock.now += 3600
    assert tick(server) is False and drain.draining() is False


def test_no_drain_or_another_signal_exits_at_once(clock):
    undrained = draining_server(0.0)
    undrained.handle_exit(signal.SIGTERM, None)
    assert (undrained.should_exit, drain.draining()) == (True, False)
    interrupted = draining_server(3.0)
    interrupted.handle_exit(signal.SIGINT, None)
    assert (interrupted.should_exit, drain.draining()) == (True, False)
    assert interrupted._captured_signals == [signal.SIGINT]


def gunicorn_config(port: int) -> GunicornConfig:
    cfg = GunicornConfig()
    cfg.set("bind", [f"127.0.0.1:{port}"])
    cfg.set("reuse_port", True)
    return cfg


def arbiter_sockets(port: int) -> list:
    """What gunicorn's arbiter opens in a new worker process (`worker.create_sockets`, reuse_port)."""
    cfg = gunicorn_config(port)
    return worker.create_sockets(cfg, glogging.Logger(cfg))


def gunicorn_worker(port: int, app, sockets=None) -> ModelWorker:
    """A ModelWorker as gunicorn's arbiter makes one in a new worker process: with the sockets the
    arbiter opened for it (`worker.create_sockets`, reuse_port), by default one listening socket."""
    cfg = gunicorn_config(port)
    if sockets is None:
        listener = socket.create_server(("127.0.0.1", port), reuse_port=True)
        from gunicorn.sock import TCPSocket

        sockets = [TCPSocket(("127.0.0.1", port), cfg, glogging.Logger(cfg), fd=listener.detach())]
    w = ModelWorker(age=1, ppid=os.getppid(), sockets=sockets, app=None, timeout=30, cfg=cfg,
                    log=glogging.Logger(cfg))
    w.wsgi = app
    return w


@pytest.fixture
def app_env(model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(worker_readiness.ENV, raising=False)
    return {"MODEL_URI": str(model_path), "WORKERS": "1", "REDIS_HOST": "",
            "MODEL_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def no_gunicorn_loop(monkeypatch):
    """UvicornWorker.init_process would run the worker loop in this process; record the call."""
    calls = []
    monkeypatch.setattr(UvicornWorker, "init_process", lambda self: calls.append(self))
    return calls


@pytest.fixture
def at_fork(monkeypatch):
    """Runs the decision each forked process makes, in this process (restored after the test)."""
    monkeypatch.setattr(worker, "_listen_after_load", worker._listen_after_load)
    return worker._decide_at_fork


def _in_a_fork(port: int) -> tuple[bool, int]:
    """Forks this process, as gunicorn's arbiter forks a worker; the child answers whether it
    will listen only after loading, and how many sockets the arbiter's call opens for it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer and leave at once, nothing of pytest's runs here
        try:
            cfg = gunicorn_config(port)
            sockets = sock.create_sockets(cfg, glogging.Logger(cfg))
            os.write(write, f"{worker._listen_after_load} {len(sockets)}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        deferred, opened = answer.read().split()
    os.waitpid(pid, 0)
    return deferred == "True", int(opened)


@pytest.mark.parametrize(("siblings_ready", "expected"), [(0, (False, 1)), (1, (True, 0))])
def test_a_worker_forked_next_to_serving_siblings_gets_no_socket_from_the_arbiter(
        worker_dir, siblings_ready, expected):
    # gunicorn's arbiter calls `sock.create_sockets` in the child right after os.fork (reuse_port).
    for pid in range(siblings_ready):
        worker_readiness.mark_ready(pid + 1)
    assert sock.create_sockets is worker.create_sockets
    assert _in_a_fork(free_port()) == expected
    assert worker._listen_after_load is False  # the master (this process) never defers


def test_a_restarted_worker_next_to_serving_siblings_listens_after_loading(
        app_env, worker_dir, no_gunicorn_loop, at_fork):
    worker_readiness.mark_ready(1)  # a sibling serves
    at_fork()
    app = create_app(settings.load(app_env))
    port = free_port()
    w = gunicorn_worker(port, app, sockets=arbiter_sockets(port))
    w.init_process()
    assert no_gunicorn_loop == [w] and w.sockets == [] and w._listen_after_load is True
    with pytest.raises(ConnectionRefusedError):  # never opened: no connection lands here while the model loads
        socket.create_connection(("127.0.0.1", port), timeout=5)

    asyncio.run(asyncio.wait_for(w._load_then_listen(), 120))
    assert app.state.model.ready
    assert [s.cfg_addr for s in w.sockets] == [("127.0.0.1", port)]  # listening now, model loaded
    for s in w.sockets:
        s.close()


def test_the_first_worker_of_a_pod_listens_at_once(app_env, worker_dir, no_gunicorn_loop, at_fork):
    at_fork()
    port = free_port()
    sockets = arbiter_sockets(port)
    w = gunicorn_worker(port, create_app(settings.load(app_env)), sockets=sockets)
    w.init_process()
    assert w.sockets == sockets and len(sockets) == 1 and w._listen_after_load is False
    socket.create_connection(sockets[0].cfg_addr, timeout=5).close()  # listening
    sockets[0].close()


def test_sigterm_answers_with_connection_close_then_stops(app_env, worker_dir, no_gunicorn_loop):
    """A real socket and event loop: before SIGTERM keep-alive answers; during the drain every
    answer says `Connection: close`; after DRAIN_SECONDS the worker stops and SIGTERM is re-raised."""
    port = free_port()
    app = create_app(settings.load({**app_env, "DRAIN_SECONDS": "5"}))
    w = gunicorn_worker(port, app)
    w.init_process()
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda sig, frame: received.append(sig))
    answers: dict[str, httpx.Response] = {}
    url = f"http://127.0.0.1:{port}/v2/health/ready"

    def traffic():
        wait_until(lambda: _ready(url), "the in-process worker to be ready")
        answers["before"] = loopback_http.get(url, timeout=10)
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(drain.draining, "the drain to begin")
        answers["draining"] = loopback_http.get(url, timeout=10)

    client = threading.Thread(target=traffic)
    client.start()
    try:
        asyncio.run(asyncio.wait_for(w._serve(), 120))
    finally:
        client.join(timeout=120)
        signal.signal(signal.SIGTERM, previous)
    assert answers["before"].status_code == 200 and "connection" not in answers["before"].headers
    assert answers["draining"].status_code == 200 and answers["draining"].headers["connection"] == "close"
    assert answers["draining"].headers["x-model-version"] == app.state.model.version
    assert received == [signal.SIGTERM]  # handed back to the process once the server stopped
    with pytest.raises(httpx.ConnectError):
        loopback_http.get(url, timeout=5)


def _ready(url: str) -> bool:
    try:
        return loopback_http.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
