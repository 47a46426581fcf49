"""A warm preview server: the SDKs stay imported between `make preview` runs.

Why: a preview of three stacks spends about half its time importing pulumi_aws and
pulumi_kubernetes (2.1 s of 3.8-4.5 s on a 2-core machine, 2026-11-30), the same import every run.
After a preview ran in its own process, `python -m tools.preview` starts this server in the
background; it imports the SDKs and the libraries the program uses, then waits. The next preview
of the same checkout is a fork of it: the fork forgets every module of this repository, imports
the project's code as it is on disk now, and runs the very `tools.preview` a cold process would,
writing to the caller's own stdout and stderr (passed over the socket) and returning its exit
code. Three stacks then took 2.0-2.5 s where a process of their own took 4.3-5.3 s (the same
minutes, 2026-11-30).

What keeps it from serving stale code:
- the project's modules are never kept: each fork imports them again from the checkout; the one
  change their import makes outside them (tools/engine.py replaces SDK functions with shortcuts)
  is undone before the server waits;
- what the server itself keeps (the interpreter, the installed packages as the site-packages
  folders list them, the environment variables that change how Python and the SDKs load, this
  file, tools/warm.py and tools/fork_protocol.py, which run before the fork) makes up its key; a caller whose key differs
  stops it and runs in its own process. An installed file edited in place changes no listing:
  stop the server (`python -m tools.preview_server stop`) after doing that.

A fork runs with the server's resource limits, nice level and CPU affinity, not the caller's.
Ctrl-C and SIGTERM are passed on to the preview; a caller killed with SIGKILL takes its preview
with it (the fork sees the caller's end of the socket close).

Off under CI (`CI` set, unless a mode is asked for by name) and with `MLOPS_PREVIEW_SERVER=off`
(the tests set it); `=auto`, the default elsewhere, uses a ready server and starts one when
there is none; `=require` makes a
caller wait for a server and fail without one (the benchmark and its tests). The server stops
after `MLOPS_PREVIEW_SERVER_IDLE` seconds without a preview (default 900), when its checkout is
gone, and on `python -m tools.preview_server stop`. Socket and lock live in a private (0700)
folder under the temporary directory, one server per checkout.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

from tools.fork_protocol import receive_request, send_request
from tools.warm import REPO_ROOT

# Code that runs in the server before the fork: a change to it must not be served by an old server.
_SERVER_CODE = tuple(REPO_ROOT / "tools" / name for name in ("preview_server.py", "warm.py", "fork_protocol.py"))
# Environment variables read while Python and the SDKs import (sys.path, protobuf's backend, ...).
_IMPORT_ENV_PREFIXES = ("PYTHON", "PULUMI_", "GRPC_", "PROTOCOL_BUFFERS_")
# Set by each program run (tools/engine.py) and read only by one: never part of a server's state.
_RUN_ENV = ("PULUMI_CONFIG",)
DEFAULT_IDLE_S = 900
# A request is one JSON document; the environment is most of it.
_MAX_REQUEST = 1 << 20


def mode() -> str:
    """'off', 'auto' or 'require' (MLOPS_PREVIEW_SERVER; off when CI is set and nothing is asked)."""
    wanted = os.environ.get("MLOPS_PREVIEW_SERVER", "").strip().lower()
    if wanted in ("off", "0", "false", "no"):
        return "off"
    if wanted in ("auto", "require"):
        return wanted
    return "off" if os.environ.get("CI", "").strip().lower() not in ("", "0", "false") else "auto"


def server_dir() -> Path:
    """The private folder of this user's preview servers (MLOPS_PREVIEW_SERVER_DIR overrides).
    Raises PermissionError if it exists and is not this user's alone."""
    folder = Path(os.environ.get("MLOPS_PREVIEW_SERVER_DIR") or Path(tempfile.gettempdir()) / f"mlops-preview-{os.getuid()}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder}: must be owned by uid {os.getuid()} with mode 0700")
    return folder


def _paths() -> tuple[Path, Path]:
    # Unix socket paths are limited to 107 bytes: named by a hash of the checkout, not its path.
    name = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:16]
    folder = server_dir()
    return folder / f"{name}.sock", folder / f"{name}.lock"


def server_key() -> str:
    """What a server must share with its caller to serve it: a sha256 hex digest of the
    interpreter, the checkout, the installed packages (each site-packages folder's entries and
    mtime), the import-time environment and the server's own code."""
    digest = hashlib.sha256()
    for part in (os.path.realpath(sys.executable), sys.version, str(REPO_ROOT)):
        digest.update(part.encode() + b"\0")
    for folder in sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}):
        with contextlib.suppress(OSError):
            digest.update(f"{folder}:{os.stat(folder).st_mtime_ns}:".encode())
            digest.update("\0".join(sorted(os.listdir(folder))).encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith(_IMPORT_ENV_PREFIXES) and name not in _RUN_ENV:
            digest.update(f"{name}={value}\0".encode())
    for path in _SERVER_CODE:
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ---- the caller's side ----

def run_through_server(argv: list[str]) -> int | None:
    """Runs `python -m tools.preview <argv>` in the warm server; returns its exit code, or None
    when the caller should run the preview itself (no server ready, mode off, a stale server,
    which is stopped). In 'require' mode starts a server and waits up to 120 s for it; exits 1
    with the server's log if it fails to start. Raises OSError if the server folder is unusable."""
    current = mode()
    if current == "off":
        return None
    sock_path, _ = _paths()
    key = server_key()
    deadline = time.monotonic() + 120
    starting: subprocess.Popen | None = None
    while True:
        conn = _connect(sock_path)
        if conn is not None:
            code = _request(conn, key, argv)
            if code is not None or current != "require":
                return code
        elif current != "require":
            return None
        elif starting is None or starting.poll() is not None and starting.returncode == 0:
            # None started yet, or the one started found another starting (it exits 0 at once).
            starting = start_server() or starting
        elif starting.poll() is not None:
            log = sock_path.with_suffix(".log")
            tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
            print("\n".join([f"tools.preview: the preview server failed to start (exit {starting.returncode}); "
                             f"its log, {log}:", *tail]), file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"tools.preview: no preview server answered on {sock_path} within 120 s "
                  "(MLOPS_PREVIEW_SERVER=require)", file=sys.stderr)
            return 1
        time.sleep(0.1)


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    return conn


def _request(conn: socket.socket, key: str, argv: list[str]) -> int | None:
    umask = os.umask(0)
    os.umask(umask)
    request = {"key": key, "argv": argv, "cwd": os.getcwd(), "umask": umask, "env": dict(os.environ)}
    with conn:
        try:
            # A server answers at once (it forks); one that does not is treated as absent.
            conn.settimeout(60)
            send_request(conn, request, [0, 1, 2])
            reader = conn.makefile("r", encoding="utf-8")
            first = reader.readline()
        except OSError:  # a server stopping as this caller connected, or a stuck one
            return None
        if not first:
            return None
        answer = json.loads(first)
        if "stale" in answer:  # the server stops itself; this preview runs here
            return None
        if "exit" in answer:  # the fork failed before the preview began (its error is on stderr)
            return int(answer["exit"])
        conn.settimeout(None)  # a preview takes as long as it takes

        # Ctrl-C and a kill reach the preview (its own process group) as they would a local one.
        def forward(signum, _frame):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(answer["pgid"], signum)
        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            last = reader.readline()
        except OSError:
            last = ""
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        if not last:
            print("tools.preview: the preview server lost the preview (killed?); rerun with "
                  "MLOPS_PREVIEW_SERVER=off", file=sys.stderr)
            return 1
        return int(json.loads(last)["exit"])


def start_server(env: dict[str, str] | None = None) -> subprocess.Popen | None:
    """Starts a server for this checkout in the background, with `env` (default: this process's
    environment), unless one answers or is starting; returns its process, or None."""
    if mode() == "off":
        return None
    sock_path, lock_path = _paths()
    conn = _connect(sock_path)
    if conn is not None:
        conn.close()
        return None
    if _locked(lock_path):
        return None
    with open(sock_path.with_suffix(".log"), "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "tools.preview_server", "serve"], cwd=REPO_ROOT,
                                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)


def _locked(lock_path: Path) -> bool:
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


def stop_server(wait_s: float = 60.0) -> bool:
    """Asks this checkout's server to stop; True if one was running or starting.

    A server that holds the lock but does not answer yet is importing the SDKs (seconds, right
    after the first `make preview`): it is waited for, up to `wait_s` seconds, and stopped, rather
    than left to run until it is idle."""
    sock_path, lock_path = _paths()
    deadline = time.monotonic() + wait_s
    conn = _connect(sock_path)
    while conn is None and _locked(lock_path) and time.monotonic() < deadline:
        time.sleep(0.1)
        conn = _connect(sock_path)
    if conn is None:
        return False
    with conn:
        send_request(conn, {"stop": True}, [])
        conn.recv(1)
    return True


# ---- the server's side ----

def serve(idle_s: float) -> int:
    """The server's loop: one forked preview per request, until idle for `idle_s` seconds."""
    sock_path, lock_path = _paths()
    lock = open(lock_path, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another server for this checkout runs or is starting
    key = server_key()
    _warm_up()
    with contextlib.suppress(FileNotFoundError):
        sock_path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    os.chmod(sock_path, 0o600)
    listener.listen(16)
    listener.settimeout(2.0)
    inode = sock_path.stat().st_ino
    children: set[int] = set()
    last_request = time.monotonic()
    _log(f"server {os.getpid()} ready for {REPO_ROOT} (key {key[:12]}, idle {idle_s:g} s)")
    try:
        while True:
            children = {pid for pid in children if os.waitpid(pid, os.WNOHANG)[0] == 0}
            gone = not _SERVER_CODE[0].exists() or not sock_path.exists() or sock_path.stat().st_ino != inode
            if gone or (not children and time.monotonic() - last_request > idle_s):
                _log(f"server {os.getpid()} stops: {'its checkout or socket is gone' if gone else 'idle'}")
                return 0
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            last_request = time.monotonic()
            request, fds = _receive(conn)
            if request is None:  # a probe (connect and close) or a malformed request
                _close(conn, fds)
                continue
            if request.get("stop") or request.get("key") != key:
                # Asked to stop, or a caller whose code or packages differ: this server stops
                # (such a caller runs its preview itself and starts a new server).
                with contextlib.suppress(OSError):
                    conn.sendall(b'{"stale": true}\n')
                _close(conn, fds)
                reason = "asked to stop" if request.get("stop") else "a caller's key differs"
                _log(f"server {os.getpid()} stops: {reason}")
                return 0
            pid = os.fork()
            if pid == 0:
                listener.close()
                lock.close()  # the server's lock stays the server's (the parent keeps it)
                _run_preview(conn, request, fds)  # never returns
            children.add(pid)
            _close(conn, fds)
            _log(f"server {os.getpid()} runs preview {pid}: {' '.join(request['argv'])}")
    finally:
        with contextlib.suppress(FileNotFoundError, OSError):
            if sock_path.stat().st_ino == inode:
                sock_path.unlink()
        listener.close()


def _log(line: str) -> None:
    # The server's stderr is <socket>.log in the server folder.
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def _warm_up() -> None:
    """Imports what a preview imports, then forgets this repository's own modules (each fork
    imports them afresh from the checkout); the SDKs and libraries stay, frozen out of the
    collector (tools/warm.py)."""
    from tools.preview import PROGRAM_MODULES
    from tools.warm import forget_project_modules, preload
    preload(REPO_ROOT, PROGRAM_MODULES)
    # Importing tools.engine replaced SDK functions with its shortcuts; a fork's fresh import
    # must find (and keep as the SDK's) the SDK's own.
    sys.modules["tools.engine"].use_sdk_stock_path()
    forget_project_modules()


def _receive(conn: socket.socket) -> tuple[dict | None, list[int]]:
    """A request, or None for a probe, a malformed request or a preview without its three streams."""
    try:
        conn.settimeout(10)
        received = receive_request(conn, _MAX_REQUEST)
    except (OSError, ValueError):
        return None, []
    if received is None:
        return None, []
    request, fds = received
    if "argv" in request and len(fds) != 3:
        return None, fds
    return request, fds


def _close(conn: socket.socket, fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
    conn.close()


def _run_preview(conn: socket.socket, request: dict, fds: list[int]) -> None:
    code = 1
    try:
        os.setpgid(0, 0)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        # Buffered as the caller's own interpreter would have buffered them.
        unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
        sys.stdin = open(0, closefd=False)
        binary = 0 if unbuffered else -1
        encoding = (os.environ.get("PYTHONIOENCODING") or "utf-8").split(":")[0] or "utf-8"
        sys.stdout = io.TextIOWrapper(open(1, "wb", binary, closefd=False), encoding,
                                      line_buffering=os.isatty(1), write_through=unbuffered)
        sys.stderr = io.TextIOWrapper(open(2, "wb", binary, closefd=False), encoding, "backslashreplace",
                                      line_buffering=True, write_through=unbuffered)
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        sys.argv = [str(REPO_ROOT / "tools" / "preview.py"), *request["argv"]]
        conn.sendall(json.dumps({"pgid": os.getpid()}).encode() + b"\n")
        conn.settimeout(None)  # _receive's 10 s would read as a caller gone
        threading.Thread(target=_end_with_the_caller, args=(conn,), name="caller", daemon=True).start()
        import tools.warm
        from tools.preview import run_here
        tools.warm.SDK_REFERENCES_RESOLVED = True  # the server's own start did (0.13-0.2 s a run)
        code = run_here(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # noqa: BLE001 - reported on the caller's stderr, as a local run would
        import traceback
        traceback.print_exc()
        code = 130 if isinstance(exc, KeyboardInterrupt) else 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
        os._exit(code)


def _end_with_the_caller(conn: socket.socket) -> None:
    """Kills this preview's process group when its caller goes away (killed: its end of the
    socket closes before the exit code is read), as the caller's own process would have died with
    it. A preview left running would go on writing the output folder the next preview writes.
    The caller sends nothing after its request: any read that returns is the end."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    os.killpg(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.preview_server serve|stop|status` (a preview starts the server itself)."""
    command = (argv if argv is not None else sys.argv[1:]) or ["status"]
    if command[0] == "serve":
        return serve(float(os.environ.get("MLOPS_PREVIEW_SERVER_IDLE", DEFAULT_IDLE_S)))
    if command[0] == "stop":
        print("stopped" if stop_server() else "no preview server runs for this checkout")
        return 0
    if command[0] == "status":
        sock_path, lock_path = _paths()
        running = _connect(sock_path)
        if running:
            running.close()
            print(f"a preview server runs for {REPO_ROOT}")
        elif _locked(lock_path):  # it holds the lock while it imports the SDKs, before it listens
            print(f"a preview server is starting for {REPO_ROOT}")
        else:
            print("no preview server runs for this checkout")
        return 0
    print(f"tools.preview_server: unknown command {command[0]!r}; use serve, stop or status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
