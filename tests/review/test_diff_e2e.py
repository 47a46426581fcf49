"""`make diff` end to end, in a throwaway copy of this repository: one stack setting changed
in the working tree is reported as exactly that property change, with its cost delta; a change
that forces a replacement is flagged; a stack that exists on one side only is shown whole.

Two cases go through `make diff` itself; the others call the `main` it runs (tools.diff, with
--repo) in a child forked from this test process, which has the SDKs imported already: a `make
diff` of its own spends ~2.5 s of CPU importing them again before the same code runs."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.config.defaults import defaults_for
from preview_run import run_tool
from tools.cost import load_prices

REPO_ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices()
HOURS = PRICES["hours_per_month"]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """The working tree's files (tracked and untracked, not ignored) committed as `main` in a new
    repository; no build/ in it. The virtualenv is linked, not reinstalled: mtimes are kept so
    make sees it as up to date."""
    root = tmp_path_factory.mktemp("repo")
    files = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO_ROOT / name
        if src.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    os.symlink(REPO_ROOT / ".venv", root / ".venv")
    assert not (root / "build").exists()
    return root


@pytest.fixture
def repo(sandbox):
    yield sandbox
    git(sandbox, "checkout", "-q", "--", ".")
    git(sandbox, "clean", "-fdq", "-e", ".venv", "-e", "build")


def make_diff(root: Path, stacks: str) -> tuple[subprocess.CompletedProcess, Path]:
    result = subprocess.run(["make", "-s", "-C", str(root), "-o", ".venv/.installed", "diff", "BASE=HEAD", f"STACK={stacks}"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    # The temporary worktree of BASE is gone again.
    assert git(root, "worktree", "list").count("\n") == 1
    return result, root / "build" / "diff"


def run_diff(root: Path, stacks: str) -> Path:
    """What `make diff BASE=HEAD STACK=<stacks>` runs in `root`, forked from this process."""
    result = run_tool("tools.diff", ["--repo", str(root), "--base", "HEAD", "--stacks", *stacks.split()],
                      dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert git(root, "worktree", "list").count("\n") == 1
    return root / "build" / "diff"


def set_stack_value(root: Path, stack: str, key: str, value: dict) -> None:
    path = root / "stacks" / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k) or {}, v) if isinstance(v, dict) else v
        return a
    doc["config"][key] = merge(doc["config"].get(key) or {}, value)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def prod_setting(*path: str):
    raw = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"].get("mlops:cluster") or {}
    value = defaults_for("prod")["cluster"]
    for p in path:
        value, raw = value[p], (raw or {}).get(p, {})
    return raw if raw != {} else value


def test_desired_size_under_ignore_changes_is_shown_ignored_with_no_cost(repo):
    # The program sets ignoreChanges on scalingConfig.desiredSize (the autoscaler owns it):
    # `pulumi up` changes nothing, so the diff must neither plan a change nor price one.
    desired = prod_setting("gpu", "desiredSize")
    set_stack_value(repo, "prod", "mlops:cluster", {"gpu": {"desiredSize": desired + 1}})
    result, out = make_diff(repo, "prod")

    report = json.loads((out / "prod.json").read_text())
    assert report["changes"] == []
    assert report["ignored"] == [{"resource": "nodes-gpu", "path": "scalingConfig.desiredSize",
                                  "before": desired, "after": desired + 1}]
    assert report["cost"]["after"]["monthly"] == report["cost"]["before"]["monthly"] > 0
    summary = (out / "summary.md").read_text()
    assert "0 to add, 0 to change (0 replacements), 0 to remove" in summary
    assert f"**Ignored**" in summary and f"`nodes-gpu` scalingConfig.desiredSize `{desired}` → `{desired + 1}`" in summary
    assert "prod: no changes" in result.stdout and "1 ignored (ignoreChanges)" in result.stdout


def test_a_failed_side_is_a_failed_diff(repo):
    # A bad model file in the working tree: its preview fails, so the diff claims nothing.
    (repo / "models" / "fraud.yaml").write_text((repo / "models" / "recsys.yaml").read_text())
    result = subprocess.run(["make", "-s", "-C", str(repo), "-o", ".venv/.installed", "diff", "BASE=HEAD", "STACK=dev"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode != 0
    out = repo / "build" / "diff"
    assert "dev: ❌ FAILED (working tree preview failed): DIFF FAILED" in result.stderr
    assert "models/fraud.yaml: name must match the file name fraud (got recsys)" in result.stderr
    assert "pass" not in result.stdout and "−" not in result.stdout
    summary = (out / "summary.md").read_text()
    assert "| **dev** | ❌ FAILED (working tree preview failed) |" in summary
    assert "❌ not evaluated: preview FAILED" in summary and "— (not estimated: preview FAILED)" in summary
    assert "✅ pass" not in summary and "−$" not in summary
    report = json.loads((out / "dev.json").read_text())
    assert report["failed"] is True and report["cost"] == {"before": None, "after": None}


def test_gpu_max_size_change_moves_the_ceiling_only(repo):
    maximum = prod_setting("gpu", "maxSize")
    kind = prod_setting("gpu", "instanceTypes")[0]
    set_stack_value(repo, "prod", "mlops:cluster", {"gpu": {"maxSize": maximum + 2}})
    out = run_diff(repo, "prod")
    report = json.loads((out / "prod.json").read_text())
    assert [c["name"] for c in report["changes"]] == ["nodes-gpu"]
    assert report["changes"][0]["properties"] == [{"path": "scalingConfig.maxSize", "before": maximum, "after": maximum + 2}]
    cost = report["cost"]
    assert cost["after"]["monthly"] == cost["before"]["monthly"]
    assert cost["after"]["ceiling"] - cost["before"]["ceiling"] == pytest.approx(
        2 * (PRICES["ec2"][kind] * HOURS + PRICES["ebs_gb_month"]["gp3"] * prod_setting("gpu", "diskSizeGib")), abs=0.05)


def test_instance_type_change_is_flagged_as_a_replacement(repo):
    set_stack_value(repo, "prod", "mlops:cluster", {"gpu": {"instanceTypes": ["g6.2xlarge"]}})
    out = run_diff(repo, "prod")
    report = json.loads((out / "prod.json").read_text())
    assert [(c["name"], c["action"], c["replace_reasons"]) for c in report["changes"]] == [
        ("nodes-gpu", "replace", ["instanceTypes"])]
    assert report["cost"]["after"]["monthly"] != report["cost"]["before"]["monthly"]
    summary = (out / "summary.md").read_text()
    assert "**replace** (instanceTypes)" in summary and "**forces replacement**" in summary
    assert "Replacements" in summary


def test_stacks_on_one_side_only(repo):
    shutil.copy(repo / "stacks" / "Pulumi.dev.yaml", repo / "stacks" / "Pulumi.qa.yaml")
    (repo / "stacks" / "Pulumi.staging.yaml").unlink()
    out = run_diff(repo, "qa staging")
    qa = json.loads((out / "qa.json").read_text())
    staging = json.loads((out / "staging.json").read_text())
    assert qa["exists"] == {"before": False, "after": True}
    assert qa["changes"] and {c["action"] for c in qa["changes"]} == {"create"}
    assert qa["cost"]["before"] is None and qa["cost"]["after"]["monthly"] > 0
    assert staging["exists"] == {"before": True, "after": False}
    assert {c["action"] for c in staging["changes"]} == {"delete"}
    summary = (out / "summary.md").read_text()
    assert "| **qa** | new stack |" in summary and "| **staging** | stack removed |" in summary
    assert len(summary) <= 65_536
