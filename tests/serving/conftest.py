import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_support import STACKS, preview, resources  # noqa: E402


@pytest.fixture(scope="session")
def serving_preview(tmp_path_factory) -> dict[str, list[dict]]:
    """One preview of every stack with the repository's models/, shared by the read-only tests."""
    out = tmp_path_factory.mktemp("serving-preview")
    result = preview(out, *STACKS)
    assert result.returncode == 0, result.stderr
    return {stack: resources(out, stack) for stack in STACKS}
