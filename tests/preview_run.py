"""Runs the offline preview the way `make preview` does, for tests."""
import functools
import importlib
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
    """`python -m tools.preview [--stack-file F] <stacks>` as `make preview` runs it, with `env`
    added to this process's environment; returns its exit code and output."""
    argv = ["--out", str(out)] + (["--stack-file", str(stack_file)] if stack_file is not None else [])
    return run_tool("tools.preview", [*argv, *stacks], {**os.environ, **(env or {})})


def run_tool(module: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m <module> <argv>` with exactly `env`, in a child forked from this test process.

    The same `main(argv)` the command line calls, with the SDKs already imported here once
    (tools/warm.py): a cold interpreter per call would spend most of each test importing
    pulumi_aws. tests/test_preview_output.py checks a real interpreter gives the same bytes."""
    from tools.warm import run_forked

    _preload()

    def job() -> int:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(REPO_ROOT)
        return importlib.import_module(module).main(argv)

    [outcome] = run_forked([job])
    return subprocess.CompletedProcess([sys.executable, "-m", module, *argv], outcome.code,
                                       outcome.stdout, outcome.stderr)


@functools.cache
def _preload() -> None:
    from tools.warm import preload
    preload(REPO_ROOT)


def run_preview_in_fresh_interpreter(out: Path, *stacks: str) -> subprocess.CompletedProcess:
    """The preview in a new Python process, exactly as a user's shell starts it."""
    return subprocess.run([sys.executable, "-m", "tools.preview", "--out", str(out), *stacks],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def load_resources(out: Path, stack: str) -> list[dict[str, Any]]:
    return json.loads((out / stack / "resources.json").read_text())


def of_type(resources: list[dict[str, Any]], typ: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["type"] == typ]


def one(resources: list[dict[str, Any]], typ: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in of_type(resources, typ) if name is None or r["name"] == name]
    assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r['name'] for r in found]}"
    return found[0]
