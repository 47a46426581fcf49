"""Prometheus (Debian's package) over recorded executor series, for the release controller's tests.
The Pushgateway, moto's S3 and the basic-auth `mlflow server` are the pipeline suite's own
(tests/conftest.py): one of each for the whole suite."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parents[2]
REPO = PIPELINE.parents[1]
for path in (str(PIPELINE), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from recorded import openmetrics  # noqa: E402

from tests import servers  # noqa: E402 (the pipeline tests' server harness)
from tests.conftest import ARTIFACTS  # noqa: E402

BUCKET = ARTIFACTS.removeprefix("s3://")  # the suite's MLflow artifact bucket


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: run scripts/install-system-deps.sh"
    return path


@pytest.fixture(scope="session")
def prometheus_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("prometheus")
    recorded = work / "recorded.om.txt"
    recorded.write_text(openmetrics())
    data = work / "data"
    backfill = subprocess.run([_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(recorded), str(data)],
                              capture_output=True, text=True, timeout=300)
    assert backfill.returncode == 0, backfill.stderr[-2000:]
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    process = servers.Process([_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data}",
                               f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
                              work, {}, "prometheus")
    try:
        servers.wait_until(lambda: process.alive() and servers.http_ok(f"{url}/-/ready"), "Prometheus")
    except BaseException:  # not ready, or the run interrupted: leave nothing running
        process.stop()
        raise
    yield url
    process.stop()
