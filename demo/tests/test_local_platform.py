"""demo/local_platform.py's step socket binds wherever the repository is checked out.

A Unix socket's path is limited to 107 bytes: the socket used to sit in the demo's work folder,
<checkout>/build/test-demo/work/platform/steps.sock, which a checkout path of more than 66
characters (a fork checked out by GitHub Actions under /home/runner/work/<repo>/<repo>) made
too long to bind."""
from __future__ import annotations

import socket
import stat
from pathlib import Path

from demo.local_platform import Platform, step_socket_path

DEEP = "/home/runner/work/xyzshopsmart-mlops-platform/xyzshopsmart-mlops-platform"


def test_the_step_socket_binds_under_a_deep_checkout(monkeypatch):
    platform = Platform(Path(DEEP) / "build" / "test-demo" / "work" / "platform", "recsys", 10.0)
    assert len(str(platform.work / "steps.sock").encode()) > 107  # where it used to be
    spawned = []
    monkeypatch.setattr(platform, "_spawn", lambda name, argv, env=None: spawned.append(argv))
    platform._start_step_server()  # the step server's command line, not the server
    [argv] = spawned
    path = Path(argv[argv.index("--socket") + 1])
    assert path == platform._step_socket
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(path))
            server.listen(1)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(str(path))
    finally:
        platform.stop()
    assert not path.parent.exists()  # stop() removes the folder


def test_every_platform_gets_its_own_socket_folder():
    first, second = step_socket_path(), step_socket_path()
    try:
        assert first.parent != second.parent and first.name == second.name == "steps.sock"
    finally:
        for path in (first, second):
            path.parent.rmdir()
