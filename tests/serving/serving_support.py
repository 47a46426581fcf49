"""Runs the offline preview for the serving tests, optionally on another models/ directory."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests"))
from preview_run import run_tool  # noqa: E402

MODELS_DIR = REPO_ROOT / "models"
STACKS = ("dev", "staging", "prod")
SDEP = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"
RELEASE = "kubernetes:helm.sh/v3:Release"


def preview(out: Path, *stacks: str, models_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m tools.preview <stacks>` with `MLOPS_MODELS_DIR` set to `models_dir` (or unset)."""
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_MODELS_DIR"}
    if models_dir is not None:
        env["MLOPS_MODELS_DIR"] = str(models_dir)
    return run_tool("tools.preview", ["--out", str(out), *stacks], env)


def resources(out: Path, stack: str) -> list[dict[str, Any]]:
    return json.loads((out / stack / "resources.json").read_text())


def models_copy(into: Path) -> Path:
    """A copy of models/ (model files only) that a test may change."""
    into.mkdir(parents=True, exist_ok=True)
    for path in MODELS_DIR.glob("*.yaml"):
        shutil.copy(path, into / path.name)
    return into


def of_type(found: list[dict[str, Any]], typ: str) -> list[dict[str, Any]]:
    return [r for r in found if r["type"] == typ]


def named(found: list[dict[str, Any]], typ: str, name: str) -> dict[str, Any]:
    match = [r for r in found if r["type"] == typ and r["name"] == name]
    assert len(match) == 1, f"expected one {typ} {name}, found {len(match)}"
    return match[0]


def sdep(found: list[dict[str, Any]], model: str) -> dict[str, Any]:
    match = [r for r in of_type(found, SDEP) if r["inputs"]["metadata"]["name"] == model]
    assert len(match) == 1, f"expected one SeldonDeployment {model}"
    return match[0]["inputs"]


def release(found: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return named(found, RELEASE, name)["inputs"]
