"""The three stacks as previewed satisfy every mandatory rule, and `make preview` says so."""
import pytest

from policy.offline import evaluate
from preview_run import STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_stack_has_no_mandatory_violation(stacks, stack):
    mandatory = [v for v in evaluate(stacks[stack], stack) if v.enforcement == "mandatory"]
    assert mandatory == [], "\n".join(f"{v.policy}: {v.urn}: {v.message}" for v in mandatory)


@pytest.mark.parametrize("stack", STACKS)
def test_preview_writes_the_review(preview_dir, stack):
    import json
    review = json.loads((preview_dir / stack / "review.json").read_text())
    assert review["policy"]["passed"] is True
    assert review["environment"] == stack
    assert review["cost"]["monthly"] > 0 and review["cost"]["by_component"]


def test_preview_fails_on_a_mandatory_violation(tmp_path):
    """A dev stack file the config accepts but the pack refuses (a public API endpoint open to
    0.0.0.0/0) makes the preview print the violation and exit 3."""
    from preview_run import REPO_ROOT, run_preview
    text = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text().replace("203.0.113.0/24", "0.0.0.0/0")
    assert "0.0.0.0/0" in text
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(text)
    result = run_preview(tmp_path / "out", "dev", stack_file=stack_file)
    assert result.returncode == 3, result.stderr
    assert "[mandatory] eks-public-endpoint-cidrs" in result.stdout
    assert "-> FAIL" in result.stdout
    assert "mandatory policy violation" in result.stderr
