"""A demo service started for a test, as the demo's platform starts it: its own process on a free
port, its output in a log, handed over once it answers."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from demo.local_platform import REPO, free_port, http_ok


def start_service(argv: list[str], logs: Path, name: str, probe: str = "/") -> tuple[subprocess.Popen, str, Path]:
    """`argv --port <free port>` in the repository; (process, its URL, its log) once GET `probe`
    answers 200. AssertionError with the log if it exits first, or after 60 s."""
    port = free_port()
    log = logs / f"{name}-{port}.log"
    process = subprocess.Popen([*argv, "--port", str(port)], cwd=REPO, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not http_ok(f"{url}{probe}"):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{name} did not answer within 60 s"
        time.sleep(0.2)
    return process, url, log
