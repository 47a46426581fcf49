"""Drive a server with wrk at fixed concurrency and read its percentiles."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

WORKLOAD = Path(__file__).with_name("workload.lua")
INFER_PATH = "/v2/models/recsys/infer"


@dataclass
class Run:
    requests: int
    seconds: float
    errors: int
    non_2xx: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, mode: str, first_user: int, hot_users: int, connections: int,
        seconds: int, threads: int = 1) -> Run:
    # One wrk thread: the load generator shares the pod-sized machine, and one C event loop
    # keeps 32 connections busy while leaving the cores to the server under test.
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "5s", "-s", str(WORKLOAD), url, "--",
               INFER_PATH, mode, str(first_user), str(hot_users)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(l for l in output.splitlines() if l.startswith("RESULT "))
    raw = json.loads(line[len("RESULT "):])
    return Run(requests=raw["requests"], seconds=raw["duration_us"] / 1e6, errors=raw["errors"],
               non_2xx=raw["non_2xx"], p50_ms=raw["p50_us"] / 1000, p95_ms=raw["p95_us"] / 1000,
               p99_ms=raw["p99_us"] / 1000)
