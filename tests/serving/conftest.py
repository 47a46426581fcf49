import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_support import STACKS, preview, resources  # noqa: E402


@pytest.fixture(scope="session")
def serving_preview(request, tmp_path_factory) -> dict[str, list[dict]]:
    """One preview of every stack with the repository's models/, shared by the read-only tests.

    The session's own preview (tests/conftest.py `stacks`) when MLOPS_MODELS_DIR is unset, as under
    `make test`: it is the same run, and a second one cost ~2.2 s of CPU (2026-12-01)."""
    if "MLOPS_MODELS_DIR" not in os.environ:
        return request.getfixturevalue("stacks")
    out = tmp_path_factory.mktemp("serving-preview")
    result = preview(out, *STACKS)
    assert result.returncode == 0, result.stderr
    return {stack: resources(out, stack) for stack in STACKS}
