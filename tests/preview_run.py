"""Runs the offline preview the way `make preview` does, for tests."""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")


def run_preview(out: Path, *stacks: str, stack_file: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tools.preview", "--out", str(out)]
    if stack_file is not None:
        cmd += ["--stack-file", str(stack_file)]
    return subprocess.run(cmd + list(stacks), cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def load_resources(out: Path, stack: str) -> list[dict[str, Any]]:
    return json.loads((out / stack / "resources.json").read_text())


def of_type(resources: list[dict[str, Any]], typ: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["type"] == typ]


def one(resources: list[dict[str, Any]], typ: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in of_type(resources, typ) if name is None or r["name"] == name]
    assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r['name'] for r in found]}"
    return found[0]
