import pytest

from preview_run import STACKS, load_resources, run_preview


@pytest.fixture(scope="session")
def preview_dir(tmp_path_factory):
    """One offline preview of every stack, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("preview")
    result = run_preview(out, *STACKS)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def stacks(preview_dir):
    return {stack: load_resources(preview_dir, stack) for stack in STACKS}
