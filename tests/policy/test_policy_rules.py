"""Every rule of the pack catches its violation and passes its compliant twin, through the same
pulumi-policy objects the CLI runs (policy.offline builds the analyzer's argument objects)."""
import ast
import runpy
import sys
import types
from pathlib import Path

import pytest

from policy.common import MANDATORY
from policy.offline import evaluate
from policy.pack import POLICIES, RULES

sys.path.insert(0, str(Path(__file__).parent))
from policy_cases import CASES, CLUSTER, seldon  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
BY_NAME = {p.name: p for p in POLICIES}


def violations_of(rule, records, env):
    return [v for v in evaluate(records, env, [BY_NAME[rule]]) if v.policy == rule]


def test_pack_has_at_least_30_rules_each_with_a_case():
    assert len(RULES) >= 30
    assert sorted(CASES) == sorted(RULES), "every rule needs a compliant and a violating case"
    assert {r.enforcement.value for r in RULES.values()} == {"mandatory", "advisory"}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_passes_compliant_resources(rule):
    env, compliant, _ = CASES[rule]
    assert violations_of(rule, compliant, env) == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_catches_its_violation(rule):
    env, _, violating = CASES[rule]
    found = violations_of(rule, violating, env)
    assert found, f"{rule} missed its violation"
    level = "mandatory" if RULES[rule].enforcement == MANDATORY else "advisory"
    assert {v.enforcement for v in found} == {level}
    # Every violation names the resource it is about.
    assert all(v.urn in {r["urn"] for r in violating} for v in found)


def test_each_violating_resource_of_a_multi_case_is_caught():
    env, _, violating = CASES["sg-no-public-ingress"]
    assert {v.urn for v in violations_of("sg-no-public-ingress", violating, env)} == {r["urn"] for r in violating}


@pytest.mark.parametrize("rule", ["msk-cluster-policy-not-public", "firehose-errors-kept", "athena-enforced-encryption"])
def test_each_variant_of_a_lake_rule_is_caught_on_its_own(rule):
    env, _, violating = CASES[rule]
    assert len(violating) == 2
    for record in violating:
        assert len(violations_of(rule, [record], env)) == 1, record["inputs"]


def test_environment_comes_from_config_else_the_environment_tag():
    public = dict(CLUSTER, inputs={**CLUSTER["inputs"], "vpcConfig": {**CLUSTER["inputs"]["vpcConfig"],
                  "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}})
    assert violations_of("eks-private-endpoint", [public], "prod")
    assert not violations_of("eks-private-endpoint", [public], "dev")
    dev_tagged = dict(public, inputs={**public["inputs"], "tags": {**public["inputs"]["tags"], "environment": "dev"}})
    assert not violations_of("eks-private-endpoint", [dev_tagged], None)
    assert violations_of("eks-private-endpoint", [public], None)  # tag says prod


def test_prod_serving_rules_do_not_apply_outside_prod():
    weak = [seldon(min_replicas=1, pdb=False)]
    assert not violations_of("k8s-serving-hpa-min-prod", weak, "staging")
    assert not violations_of("k8s-serving-pdb-prod", weak, "dev")


def test_supported_versions_match_the_stack_config():
    from infra.config.cluster import SUPPORTED_KUBERNETES_VERSIONS
    from policy.aws_rules import SUPPORTED_EKS_VERSIONS
    assert SUPPORTED_EKS_VERSIONS == SUPPORTED_KUBERNETES_VERSIONS


def test_taggable_types_take_tags_in_the_installed_provider():
    import importlib
    import inspect

    from policy.aws_rules import TAGGABLE_TYPES
    for t in TAGGABLE_TYPES:
        module, cls = t.split(":")[1].split("/")[0], t.split(":")[2]
        klass = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
        assert "tags" in inspect.signature(klass._internal_init).parameters, t


def test_environment_of_a_stack_with_unknown_tags_is_the_strictest():
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    from policy.common import stack_environment
    assert stack_environment({}, [types.SimpleNamespace(props=unknown_checking_proxy({"tags": UNKNOWN_STRING_VALUE}))]) == "prod"


def test_pack_entry_builds_the_policy_pack_from_the_same_policies(monkeypatch):
    """policy/__main__.py is what `pulumi preview --policy-pack policy` runs; PolicyPack itself
    starts a gRPC server, so it is replaced by a recorder here."""
    import pulumi_policy
    seen = {}

    class RecordingPack:
        def __init__(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordingPack)
    runpy.run_path(str(REPO_ROOT / "policy" / "__main__.py"), run_name="__main__")
    assert seen["policies"] is POLICIES and seen["name"] == "xyz-mlops-platform"


def test_policy_modules_do_not_construct_a_policy_pack():
    for path in (REPO_ROOT / "policy").glob("*.py"):
        if path.name == "__main__.py":
            continue
        calls = [n for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "PolicyPack"]
        assert not calls, f"{path.name} constructs PolicyPack (starts a server on import)"


def test_policy_pack_metadata_files():
    import yaml
    meta = yaml.safe_load((REPO_ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert meta["runtime"]["name"] == "python"
    pins = dict(line.split("==") for line in (REPO_ROOT / "policy" / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    root = dict(line.split("==") for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for package, version in pins.items():
        assert root.get(package) == version, f"policy/requirements.txt pins {package}=={version}, the repository {root.get(package)}"


def test_each_loose_github_trust_is_caught():
    # A missing subject, a StringLike pattern, a wildcard owner and an owner without a name: four
    # different ways a trust admits more than one repository's jobs.
    env, _, violating = CASES["github-oidc-subject-pinned"]
    assert len(violating) == 4
    assert {v.urn for v in violations_of("github-oidc-subject-pinned", violating, env)} == {r["urn"] for r in violating}
    env, _, violating = CASES["github-oidc-audience"]
    assert len(violating) == 2
    assert {v.urn for v in violations_of("github-oidc-audience", violating, env)} == {r["urn"] for r in violating}
