"""Local processes the tests and the benchmark start: redis-server on a free loopback port."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

# A deadline, not a timing: on a CI machine shared with other jobs a start can take minutes.
STARTUP_DEADLINE_SECONDS = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, what: str, deadline: float = STARTUP_DEADLINE_SECONDS, every: float = 0.05):
    """Poll until condition() is truthy; a deadline, not a timing assertion."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what} after {deadline}s")


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        wait_until(self._pings, f"redis-server on port {self.port}")
        return self

    def _pings(self) -> bool:
        try:
            return self.client().ping()
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
