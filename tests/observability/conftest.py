"""Fixtures shared by the observability tests: rendered model rules next to their promtool tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from obs_support import MODEL_RENDERS, MODEL_TESTS_DIR  # noqa: E402
from observability.model_rules import model_rule_groups  # noqa: E402
from observability.rulefile import dump  # noqa: E402


@pytest.fixture(scope="session")
def model_rules_dir(tmp_path_factory) -> Path:
    """Every model render written as <name>.rules.yaml beside a copy of <name>.test.yaml."""
    directory = tmp_path_factory.mktemp("model-rules")
    for name, kwargs in MODEL_RENDERS.items():
        (directory / f"{name}.rules.yaml").write_text(dump(model_rule_groups(**kwargs)))
        shutil.copy(MODEL_TESTS_DIR / f"{name}.test.yaml", directory / f"{name}.test.yaml")
    return directory
