"""Pod readiness across worker processes: ready only when every worker has its model warmed up.

A probe reaches one worker; with a listening socket per worker, requests reach all of them. If a
worker that finished loading answered "ready" for the pod while its sibling (or a restarted one)
was still loading, the Service would send traffic that the loading worker answers with 503. So
each warmed-up worker drops a marker file, the master removes a dead worker's marker
(child_exit), and readiness counts markers against the configured worker count.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "MODEL_SERVER_WORKER_STATE_DIR"  # internal: set by the entry point, not by the platform


def _directory() -> Path | None:
    path = os.environ.get(ENV)
    return Path(path) if path else None


def mark_ready(pid: int) -> None:
    if directory := _directory():
        (directory / f"ready-{pid}").touch()


def worker_exited(pid: int) -> None:
    if directory := _directory():
        (directory / f"ready-{pid}").unlink(missing_ok=True)


def ready_workers() -> int | None:
    """How many workers are warmed up, or None when run outside the entry point (one process)."""
    directory = _directory()
    return len(list(directory.glob("ready-*"))) if directory else None
