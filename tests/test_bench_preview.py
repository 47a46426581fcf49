"""tools/bench_preview.py's registration floor (table 4) measures what it says: each floor program
declares exactly the resources it is asked for, through the preview's engine and recorder."""
import json
import os

import pytest

from preview_run import run_tool
from tools.bench_preview import FLOOR_PROGRAMS


@pytest.mark.parametrize("kind", sorted(FLOOR_PROGRAMS))
def test_a_floor_program_declares_the_resources_it_is_timed_on(kind, tmp_path):
    result = run_tool("tools.bench_preview", ["--child-floor", kind, "7", str(tmp_path)], dict(os.environ))
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["resources"] == 7
    assert measured["cpu"] > 0
