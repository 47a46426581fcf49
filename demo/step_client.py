"""The Airflow worker's PIPELINE_PYTHON in the demo: `<this> -m pipeline <step> ...` runs the step in
demo/step_server.py's warm interpreter and exits with the step's exit code.

Standard library only, and started with -S -E (no site-packages, no PYTHON* variables): it starts
in tens of milliseconds. It sends the server its argv, environment, working directory and its
stdin/stdout/stderr, so the step writes straight to what the worker reads. Anything but
`-m pipeline ...`, or a server that does not answer, runs the real interpreter instead (exec), so
the worker sees a `python` either way.
"""
from __future__ import annotations

import os
import socket
import struct
import sys

from tools.fork_protocol import send_request

# The step's exit code, the server's answer (demo/step_server.py imports it); the request's
# framing is tools/fork_protocol.py's.
EXIT = struct.Struct("!i")


def main(argv: list[str], server: str, python: str) -> int:
    """argv: the interpreter's arguments (`-m pipeline validate ...`); server: the socket's path;
    python: the interpreter run instead when the server cannot take the step. Returns the exit code."""
    if argv[:2] != ["-m", "pipeline"]:
        os.execv(python, [python, *argv])
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(server)
    except OSError as exc:
        print(f"step client: {server}: {exc.strerror}; running {python} instead", file=sys.stderr, flush=True)
        os.execv(python, [python, *argv])
    send_request(conn, {"argv": argv[2:], "env": dict(os.environ), "cwd": os.getcwd()}, [0, 1, 2])
    status = b""
    while len(status) < EXIT.size:
        chunk = conn.recv(EXIT.size - len(status))
        if not chunk:
            print("step client: the step server went away before the step ended", file=sys.stderr)
            return 1
        status += chunk
    (code,) = EXIT.unpack(status)
    # A step killed by a signal: the shell's convention, as `python` killed by it would report.
    return code if code >= 0 else 128 - code


def write_launcher(path: os.PathLike, server: os.PathLike, python: str, repo: os.PathLike) -> None:
    """An executable at `path` that runs main() with the given server and fallback interpreter."""
    text = (f"#!{python} -SE\n"
            "import sys\n"
            f"sys.path.insert(0, {str(repo)!r})\n"
            "from demo.step_client import main\n"
            f"sys.exit(main(sys.argv[1:], {str(server)!r}, {python!r}))\n")
    with open(path, "w") as out:
        out.write(text)
    os.chmod(path, 0o755)
