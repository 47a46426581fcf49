"""Least privilege of every workflow job, and the delivery workflows wired to the roles' trust.

ALLOWED is the explicit table: each job's permissions, exactly. On top of the table, derived
checks hold whatever the table says: `id-token: write` only in a job that assumes an AWS role
(configure-aws-credentials, itself or in the reusable workflow it calls), `pull-requests: write`
only where a comment is posted, and a workflow's default for jobs without their own is
`contents: read` at most."""
import copy
from pathlib import Path

import pytest
import yaml

from infra.config import load_platform_config
from tools.stack_files import load_stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
STACKS = ("dev", "staging", "prod")

OIDC = {"contents": "read", "id-token": "write"}
ALLOWED = {
    ("pr.yml", "review"): {"contents": "read", "pull-requests": "write"},
    ("pr.yml", "pulumi-preview"): {**OIDC, "pull-requests": "write"},
    ("pr-comment.yml", "comment"): {"actions": "read", "pull-requests": "write"},
    ("images.yml", "build"): {"contents": "read"},
    ("images.yml", "push"): OIDC,
    ("deploy.yml", "offline-diff"): {"contents": "read"},
    ("deploy.yml", "dev"): OIDC,
    ("deploy.yml", "staging"): OIDC,
    ("deploy.yml", "prod"): OIDC,
    ("deploy-stack.yml", "up"): OIDC,
    ("release.yml", "release"): OIDC,
}
COMMENTERS = ("marocchino/sticky-pull-request-comment",)


def load_all(directory: Path = WORKFLOWS_DIR) -> dict[str, dict]:
    # libyaml (CSafeLoader): the same YAML 1.1 reading as safe_load (`on` is True in both).
    return {p.name: yaml.load(p.read_text(), Loader=yaml.CSafeLoader) for p in sorted(directory.glob("*.yml"))}


def _uses(job: dict) -> list[str]:
    return [s.get("uses", "").split("@")[0] for s in job.get("steps", [])]


def _assumes_role(job: dict, workflows: dict[str, dict]) -> bool:
    if "uses" in job:  # a reusable workflow: its jobs decide
        called = workflows[Path(job["uses"]).name]
        return any(_assumes_role(j, workflows) for j in called["jobs"].values())
    return "aws-actions/configure-aws-credentials" in _uses(job)


def _comments(job: dict) -> bool:
    return any(u in COMMENTERS for u in _uses(job)) or any(
        s.get("with", {}).get("comment-on-pr") for s in job.get("steps", []))


def permission_problems(workflows: dict[str, dict], allowed: dict = ALLOWED) -> list[str]:
    problems = []
    seen = set()
    for name, wf in workflows.items():
        default = wf.get("permissions")
        if not isinstance(default, dict) or set(default.items()) - {("contents", "read")}:
            problems.append(f"{name}: workflow permissions must be `contents: read` at most (got {default})")
        for job_id, job in wf["jobs"].items():
            seen.add((name, job_id))
            granted = job.get("permissions")
            if not isinstance(granted, dict):
                problems.append(f"{name} {job_id}: permissions must be an explicit map (got {granted})")
                continue
            expected = allowed.get((name, job_id))
            if expected is None:
                problems.append(f"{name} {job_id}: not in the allow-table")
            elif granted != expected:
                problems.append(f"{name} {job_id}: permissions {granted} differ from the allow-table {expected}")
            if granted.get("id-token") == "write" and not _assumes_role(job, workflows):
                problems.append(f"{name} {job_id}: id-token: write without assuming an AWS role")
            if granted.get("pull-requests") == "write" and not _comments(job):
                problems.append(f"{name} {job_id}: pull-requests: write without posting a comment")
    problems += [f"{n} {j}: in the allow-table but not in the workflows" for n, j in sorted(set(allowed) - seen)]
    return problems


def test_every_job_has_exactly_its_allowed_permissions():
    workflows = load_all()
    assert {"images.yml", "deploy.yml", "deploy-stack.yml", "release.yml"} <= set(workflows)
    assert sum(len(wf["jobs"]) for wf in workflows.values()) == len(ALLOWED)
    assert permission_problems(workflows) == []


@pytest.mark.parametrize("mutate, expected", [
    (lambda w: w["images.yml"]["jobs"]["build"]["permissions"].update({"id-token": "write"}),
     ["images.yml build: permissions {'contents': 'read', 'id-token': 'write'} differ from the allow-table {'contents': 'read'}",
      "images.yml build: id-token: write without assuming an AWS role"]),
    (lambda w: w["release.yml"]["jobs"]["release"].update({"permissions": "write-all"}),
     ["release.yml release: permissions must be an explicit map (got write-all)"]),
    (lambda w: w["deploy.yml"].update({"permissions": {"contents": "write"}}),
     ["deploy.yml: workflow permissions must be `contents: read` at most (got {'contents': 'write'})"]),
    (lambda w: w["deploy.yml"]["jobs"].update({"extra": {"runs-on": "ubuntu-latest", "permissions": {"contents": "read"}}}),
     ["deploy.yml extra: not in the allow-table"]),
])
def test_the_check_catches_a_widened_job(mutate, expected):
    workflows = copy.deepcopy(load_all())
    mutate(workflows)
    assert permission_problems(workflows) == expected


def test_a_role_assuming_step_removed_makes_id_token_excess():
    workflows = copy.deepcopy(load_all())
    stack_job = workflows["deploy-stack.yml"]["jobs"]["up"]
    stack_job["steps"] = [s for s in stack_job["steps"] if "configure-aws-credentials" not in s.get("uses", "")]
    problems = permission_problems(workflows)
    # The reusable workflow's job and the three jobs calling it all lose their reason for OIDC.
    assert sorted(problems) == sorted([f"deploy.yml {s}: id-token: write without assuming an AWS role" for s in STACKS]
                                      + ["deploy-stack.yml up: id-token: write without assuming an AWS role"])


# ---------------------------------------------------------------- wiring to the roles' trust

def config(stack: str):
    return load_platform_config(load_stack_config(stack), f"stacks/Pulumi.{stack}.yaml")


def test_jobs_run_in_the_github_environments_the_roles_trust():
    workflows = load_all()
    up = workflows["deploy-stack.yml"]["jobs"]["up"]
    release = workflows["release.yml"]["jobs"]["release"]
    stacks = workflows["release.yml"][True]["workflow_dispatch"]["inputs"]["stack"]["options"]
    assert stacks == list(STACKS)
    for stack in STACKS:
        delivery = config(stack).delivery
        assert up["environment"].replace("${{ inputs.stack }}", stack) == delivery.deploy_environment
        assert release["environment"].replace("${{ inputs.stack }}", stack) == delivery.release_environment
    # Both talk to the EKS API, which no GitHub-hosted runner reaches (private, or dev's office
    # allow-list): a self-hosted runner in the stack's VPC.
    for job in (up, release):
        assert job["runs-on"] == ["self-hosted", "xyz-mlops-${{ inputs.stack }}"]
    push = workflows["images.yml"]["jobs"]["push"]
    assert f"github.ref == 'refs/heads/{config('prod').delivery.images_branch}'" in push["if"]
    assert "github.event_name != 'pull_request'" in push["if"]


def test_workflow_constants_agree_with_the_stacks():
    workflows = load_all()
    names = {config(s).name for s in STACKS}
    regions = {config(s).region for s in STACKS}
    assert len(names) == 1 and len(regions) == 1
    (name,), (region,) = names, regions
    for env in (workflows["images.yml"]["env"], workflows["release.yml"]["jobs"]["release"]["env"]):
        assert (env["PLATFORM_NAME"], env["AWS_REGION"]) == (name, region)
    up = workflows["deploy-stack.yml"]["jobs"]["up"]
    creds = [s for s in up["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")]
    assert [c["with"]["aws-region"] for c in creds] == [region]


def test_images_workflow_builds_every_registry_repository_and_gates_the_scan():
    images = load_all()["images.yml"]
    on = images[True]
    for trigger in ("push", "pull_request"):
        assert {"services/**", "contracts/**"} <= set(on[trigger]["paths"])
    build = images["jobs"]["build"]
    built = {m["image"]: m for m in build["strategy"]["matrix"]["include"]}
    assert sorted(built) == sorted(config("prod").registry.repositories)
    assert images["jobs"]["push"]["strategy"]["matrix"]["image"] == [m["image"] for m in build["strategy"]["matrix"]["include"]]
    assert (built["pipeline"]["context"], built["pipeline"]["dockerfile"]) == (".", "services/pipeline/Dockerfile")
    steps = build["steps"]
    trivy = [s for s in steps if s.get("uses", "").startswith("aquasecurity/trivy-action@")]
    assert len(trivy) == 2
    for step in trivy:
        pin = step["uses"].split("@")[1]
        assert len(pin) == 40 and all(c in "0123456789abcdef" for c in pin), "pin the scanner by commit"
    scan, sbom = trivy
    assert (scan["with"]["severity"], scan["with"]["ignore-unfixed"], scan["with"]["exit-code"]) == ("HIGH,CRITICAL", True, "1")
    assert sbom["with"]["format"] == "cyclonedx"
    buildx = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert buildx["with"]["push"] is False and buildx["with"]["cache-from"].startswith("type=gha")
    # The scan runs before the image is saved for pushing: what is pushed is what was scanned.
    names = [s.get("name", s.get("uses", "")) for s in steps]
    assert names.index(scan["name"]) < names.index("Save the scanned image for the push job")


def test_deploy_chains_the_stacks_and_gates_before_preview_before_up():
    workflows = load_all()
    deploy = workflows["deploy.yml"]
    assert deploy[True]["push"]["branches"] == ["main"]
    assert deploy[True]["workflow_dispatch"]["inputs"]["stack"]["options"] == list(STACKS)
    jobs = deploy["jobs"]
    assert [jobs[s]["uses"] for s in STACKS] == ["./.github/workflows/deploy-stack.yml"] * 3
    assert [jobs[s]["with"]["stack"] for s in STACKS] == list(STACKS)
    assert "dev" in jobs["staging"]["needs"] and "staging" in jobs["prod"]["needs"]
    assert all("offline-diff" in (jobs[s]["needs"] if isinstance(jobs[s]["needs"], list) else [jobs[s]["needs"]]) for s in STACKS)
    diff_runs = " ".join(s.get("run", "") for s in jobs["offline-diff"]["steps"])
    assert "make diff" in diff_runs and "GITHUB_STEP_SUMMARY" in diff_runs
    up = workflows["deploy-stack.yml"]["jobs"]["up"]
    assert up["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
    steps = up["steps"]
    order = [i for i, s in enumerate(steps) if "tools.image_gate" in s.get("run", "")]
    pulumi = [(i, s["with"]) for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@")]
    assert [w["command"] for _, w in pulumi] == ["preview", "up"]
    assert all(w["policyPacks"] == "policy" for _, w in pulumi)
    assert len(order) == 1 and order[0] < pulumi[0][0]
    outputs = [i for i, s in enumerate(steps) if "pulumi stack output" in s.get("run", "")]
    assert len(outputs) == 1 and outputs[0] > pulumi[1][0]


def test_release_is_one_dispatch_through_the_release_controller():
    release = load_all()["release.yml"]
    assert list(release[True]) == ["workflow_dispatch"]
    inputs = release[True]["workflow_dispatch"]["inputs"]
    assert inputs["action"]["options"] == ["promote", "rollback"]
    assert {k for k, v in inputs.items() if v["required"]} == {"stack", "model", "action", "reason"}
    runs = [s.get("run", "") for s in release["jobs"]["release"]["steps"]]
    decide = [r for r in runs if "-m pipeline release" in r]
    assert len(decide) == 1
    assert '"$MODEL" "$ACTION" --reason "$REASON"' in decide[0] and "GITHUB_STEP_SUMMARY" in decide[0]
    # Inputs reach the shell as environment variables, never spliced into the script.
    assert not any("${{ inputs." in r for r in runs)


def test_readme_documents_the_delivery_path():
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Delivery (GitHub Actions, OIDC, no stored AWS keys)")
    section = text[start:text.index("\n## ", start + 1)]
    assert "```mermaid" in section
    for workflow in load_all():
        if workflow.startswith(("images", "deploy", "release")):
            assert workflow in section, workflow
    for topic in ("**GitHub-side setup.**", "**Roll back a model.**", "**Roll back a platform change.**", "**Why no Argo CD.**"):
        assert topic in section, topic
