import fcntl
import os

import pytest

from preview_run import STACKS, load_resources, run_preview

# Every preview a test runs happens in its own process tree, never in a warm preview server left
# by an earlier `make preview` (tests/test_preview_server.py starts its own).
os.environ["MLOPS_PREVIEW_SERVER"] = "off"


@pytest.fixture(scope="session")
def preview_dir(tmp_path_factory, worker_id):
    """One offline preview of every stack, shared by the tests that only read it.

    Under pytest-xdist the workers share one copy: the first to take the lock writes it, the
    others wait and read it (each worker building its own cost ~6 s of CPU on a 2-core machine)."""
    if worker_id == "master":
        return _preview(tmp_path_factory.mktemp("preview"))
    shared = tmp_path_factory.getbasetemp().parent
    out = shared / "preview"
    with open(shared / "preview.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "preview.done").exists():
            _preview(out)
            (shared / "preview.done").touch()
    return out


def _preview(out):
    result = run_preview(out, *STACKS)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def stacks(preview_dir):
    return {stack: load_resources(preview_dir, stack) for stack in STACKS}
