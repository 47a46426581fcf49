"""The demo's warm pipeline interpreter: `python -m pipeline <step>` without importing the world per step.

    python -m demo.step_server --socket PATH        (the pipeline's venv, the steps' environment)

In the cluster every step is a pod and pays its imports once per pod. On a laptop the demo runs
about thirty steps, and each fresh interpreter imported MLflow (1.7 s of user CPU), torch (1.5 s),
Evidently (4.6 s) or pandera again (measured on this 2-core machine, 2026-11-30): about a fifth of
the demo's CPU and of its wall time, spent on the same imports. This server imports them once,
then forks a child per step: the child takes the caller's stdin/stdout/stderr, environment and
working directory and runs the same `pipeline.__main__.main(argv)` that `python -m pipeline`
runs, so the step's code, arguments, output and exit code are the step's own.

The caller is demo/step_client.py, which the Airflow worker runs as PIPELINE_PYTHON: it passes its
three descriptors over the socket (SCM_RIGHTS), waits for the exit code and exits with it. A
caller that goes away (a task killed on timeout) takes its step with it: the child is killed.

What a fresh interpreter would have and a fork would not is restored in the child: the numpy and
torch random generators are reseeded from the OS (Python's `random` reseeds itself after a fork),
signal handlers are the defaults, logging is unconfigured (this process never configures it).
"""
from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
from pathlib import Path

# The step's exit code is framed as the client reads it; requests as tools/fork_protocol.py frames them.
from demo.step_client import EXIT
from tools.fork_protocol import receive_request
from tools.warm import collector_paused

# What the steps import inside their functions (pipeline/*.py import lazily, so `python -m
# pipeline <step>` loads only its own). A module that fails to import here is left to the step,
# which reports it as a fresh interpreter would.
PRELOAD = (
    "pipeline.__main__", "pipeline.release.cli",
    *(f"pipeline.steps.{step}" for step in ("generate", "validate", "features", "train", "export",
                                            "evaluate", "register", "drift")),
    "mlflow", "mlflow.artifacts", "mlflow.exceptions", "mlflow.entities.model_registry",
    "torch", "evidently", "evidently.presets", "pandera.polars", "onnx", "onnxruntime",
)
# A request is one JSON document and three descriptors; a few hundred KB covers any environment.
MAX_REQUEST_BYTES = 1 << 20
# Steps running now (their process group ids): stopping the server stops them too.
RUNNING: set[int] = set()


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")


def preload() -> list[str]:
    """Imports PRELOAD; returns the modules that could not be imported ("name: error").

    The imports leave ~560,000 objects the cyclic collector tracks and none of them garbage; a
    full collection walks them all (0.26 s here). They are imported with the collector off and
    then frozen (gc.freeze), so no step's collections walk them: a drift-and-training workload
    forked from here spent 0.49-0.64 s of ~3 s of CPU in the collector, frozen 0.16-0.20 s
    (2026-11-30). A step's own garbage is collected as in a fresh interpreter."""
    failed = []
    with collector_paused():
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - the step reports it, as a fresh interpreter would
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return failed


def serve(path: Path) -> None:
    """Accepts steps on the Unix socket at `path` (mode 0600) until SIGTERM."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(16)
    while True:
        conn, _ = listener.accept()
        try:
            received = _receive(conn)
        except (OSError, ValueError) as exc:
            print(f"step server: bad request: {exc}", file=sys.stderr, flush=True)
            conn.close()
            continue
        if received is None:  # connected and closed: a readiness probe
            conn.close()
            continue
        request, fds = received
        # Forked from this (the main) thread: the supervising threads hold no lock a child needs.
        pid = os.fork()
        if pid == 0:
            listener.close()
            _run_step(conn, request, fds)  # never returns
        RUNNING.add(pid)
        for fd in fds:
            os.close(fd)
        threading.Thread(target=_supervise, args=(conn, pid), daemon=True).start()


def _receive(conn: socket.socket) -> tuple[dict, list[int]] | None:
    received = receive_request(conn, MAX_REQUEST_BYTES)
    if received is None:
        return None
    request, fds = received
    if len(fds) == 3 and isinstance(request.get("argv"), list) and isinstance(request.get("env"), dict):
        return request, fds
    for fd in fds:
        os.close(fd)
    if len(fds) != 3:
        raise ValueError(f"expected stdin, stdout and stderr, got {len(fds)} descriptor(s)")
    raise ValueError("the request needs argv (a list) and env (an object)")


def _run_step(conn: socket.socket, request: dict, fds: list[int]) -> None:
    code = 1
    try:
        conn.close()
        os.setpgid(0, 0)  # the supervisor kills the step's whole group if its caller goes away
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own descriptors
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request.get("cwd") or "/")
        _reseed()
        import pipeline.__main__ as entry
        sys.argv = [entry.__file__, *request["argv"]]
        code = entry.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what an uncaught exception does to `python -m pipeline`
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        _shut_down_like_an_interpreter()
        os._exit(code if isinstance(code, int) else 1)


def _shut_down_like_an_interpreter() -> None:
    # What Python does at exit and os._exit skips, in its order: threading._shutdown() (the call
    # Py_FinalizeEx makes: it tells concurrent.futures' idle workers to stop, then joins the
    # non-daemon threads), then the exit handlers (MLflow's and boto3's flush there; the same
    # modules registered them in a fresh interpreter), then the standard streams. Not a
    # SystemExit: that would unwind into serve().
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    try:
        atexit._run_exitfuncs()
    except Exception:  # noqa: BLE001 - the handlers print their own errors, as at interpreter exit
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe must not change the exit code
            pass


def _reseed() -> None:
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()


def _supervise(conn: socket.socket, pid: int) -> None:
    """Waits for the step; sends its exit code to the caller, or kills it if the caller goes away."""
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                conn.sendall(EXIT.pack(os.waitstatus_to_exitcode(status)))
                return
            readable, _, _ = select.select([conn], [], [], 0.2)
            if readable and not conn.recv(1):  # the caller is gone: so is its step
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.waitpid(pid, 0)
                return
    except OSError:
        pass
    finally:
        RUNNING.discard(pid)
        conn.close()


def _stop(*_) -> None:
    for pid in list(RUNNING):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = _Parser(prog="python -m demo.step_server", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, required=True, help="the Unix socket to listen on")
    args = parser.parse_args(argv)
    if not args.socket.parent.is_dir():
        parser.error(f"--socket {args.socket}: no such directory {args.socket.parent}")
    for line in preload():
        print(f"step server: not preloaded, the step will import it: {line}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        serve(args.socket)
    finally:
        args.socket.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
