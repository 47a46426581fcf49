"""Entry point of the image and of local runs: `python -m model_server`."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile


def _fresh_metrics_dir() -> str:
    # prometheus_client picks its multiprocess value store when it is first imported, so the
    # directory is set here, before anything imports it; and it is emptied because files left by
    # a previous run would be summed into this one's counters.
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="model-server-metrics-")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _fresh_worker_state_dir() -> None:
    from .worker_readiness import ENV

    os.environ[ENV] = tempfile.mkdtemp(prefix="model-server-workers-")


def main() -> None:
    from . import settings

    try:
        loaded = settings.load()
    except settings.SettingsError as exc:  # bad configuration: one line and exit 2, no traceback
        print(f"model server: {exc}", file=sys.stderr)
        sys.exit(2)
    _fresh_metrics_dir()
    _fresh_worker_state_dir()
    from .server import ModelServer

    ModelServer(loaded).run()


if __name__ == "__main__":
    main()
