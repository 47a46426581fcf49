"""GitHub OIDC under Pulumi mocks: per stack one provider (or the configured one) and three roles
whose trust admits exactly one repository's subject, and whose permissions are each role's own."""
import fnmatch
import json

import pytest
import yaml

from components.github_oidc import DEPLOY_SERVICES, subject
from infra.config import ConfigError, load_platform_config
from preview_run import of_type, one, run_preview
from tools.stack_files import load_stack_config

ISSUER = "token.actions.githubusercontent.com"
REPOSITORY = "xyz-shopsmart/mlops-platform"  # the default in infra/config/defaults.py
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


def trust(resources, kind):
    statements = json.loads(one(resources, ROLE, f"github-{kind}")["inputs"]["assumeRolePolicy"])["Statement"]
    assert len(statements) == 1
    return statements[0]


def statements(resources, kind):
    return json.loads(one(resources, ROLE_POLICY, f"github-{kind}")["inputs"]["policy"])["Statement"]


def test_each_role_trusts_one_exact_subject_of_this_repository(stacks):
    # GitHub's subject claims: a branch push is ref:refs/heads/<b>, a job in an environment is
    # environment:<name>; the audience configure-aws-credentials requests is sts.amazonaws.com.
    for env, resources in stacks.items():
        provider = one(resources, PROVIDER, "github-provider")["inputs"]
        assert provider["url"] == f"https://{ISSUER}" and provider["clientIdLists"] == ["sts.amazonaws.com"]
        expected = {
            "images": f"repo:{REPOSITORY}:ref:refs/heads/main",
            "deploy": f"repo:{REPOSITORY}:environment:{env}",
            "release": f"repo:{REPOSITORY}:environment:{env}-release",
        }
        for kind, sub in expected.items():
            statement = trust(resources, kind)
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
            assert statement["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"}
            assert statement["Condition"] == {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": sub}}
        # A deploy job can never assume the release role nor the reverse: distinct subjects.
        assert len({trust(resources, k)["Condition"]["StringEquals"][f"{ISSUER}:sub"] for k in expected}) == 3


def test_images_role_pushes_to_this_stacks_repositories_only(stacks):
    for env, resources in stacks.items():
        names = sorted(r["inputs"]["name"] for r in of_type(resources, "aws:ecr/repository:Repository"))
        assert names == [f"xyz-mlops-{env}/{r}" for r in ("mlflow", "pipeline", "serving")]
        token, push = statements(resources, "images")
        assert (token["Action"], token["Resource"]) == (["ecr:GetAuthorizationToken"], "*")
        assert push["Resource"] == [f"arn:aws:ecr:us-east-1:123456789012:repository/{n}" for n in names]
        assert "ecr:PutImage" in push["Action"] and all(a.startswith("ecr:") for a in push["Action"])
        assert not any(a.startswith("ecr:Delete") or a == "ecr:*" for a in push["Action"])


def test_release_role_describes_its_cluster_and_port_forwards_to_mlflow_and_the_pushgateway_only(stacks):
    for env, resources in stacks.items():
        cluster = one(resources, "aws:eks/cluster:Cluster")["inputs"]["name"]
        assert statements(resources, "release") == [{
            "Action": ["eks:DescribeCluster"], "Effect": "Allow",
            "Resource": f"arn:aws:eks:us-east-1:123456789012:cluster/{cluster}"}]
        entry = one(resources, "aws:eks/accessEntry:AccessEntry", "github-release")["inputs"]
        assert entry["kubernetesGroups"] == ["mlops:release"] and entry["clusterName"] == cluster
        associations = of_type(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        assert not [a for a in associations if a["inputs"]["principalArn"] == entry["principalArn"]]
        role = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "github-release")["inputs"]
        assert role["metadata"]["namespace"] == "mlflow"
        granted = {(res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]}
        assert granted == {("services", "get"), ("pods", "get"), ("pods", "list"), ("pods/portforward", "create")}
        binding = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "github-release")["inputs"]
        assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mlops:release"}]
        assert binding["metadata"]["namespace"] == "mlflow" and binding["roleRef"]["name"] == role["metadata"]["name"]
        # The decision's metrics: a port-forward to the Pushgateway's one pod, by name, nothing else there.
        push = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "github-release-pushgateway")["inputs"]
        assert push["metadata"]["namespace"] == "monitoring"
        assert len(push["rules"]) == 2
        for rule in push["rules"]:
            assert rule["resourceNames"] == ["prometheus-pushgateway-0"], rule
        assert {(res, verb) for rule in push["rules"] for res in rule["resources"] for verb in rule["verbs"]} == {
            ("pods", "get"), ("pods/portforward", "create")}
        push_binding = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                           "github-release-pushgateway")["inputs"]
        assert push_binding["subjects"] == binding["subjects"] and push_binding["roleRef"]["name"] == "release-pushgateway"
        # The pod name the right names is the one the chart gives its StatefulSet's only pod.
        values = one(resources, "kubernetes:helm.sh/v3:Release", "prometheus-pushgateway")["inputs"]
        assert values["values"]["runAsStatefulSet"] is True and values["values"]["replicaCount"] == 1
        assert f'{values["name"]}-0' == "prometheus-pushgateway-0"


def test_deploy_role_covers_every_aws_service_the_stack_declares(stacks):
    for env, resources in stacks.items():
        modules = {r["type"].split(":")[1].split("/")[0] for r in resources if r["type"].startswith("aws:")}
        assert len(modules) >= 10
        missing = modules - set(DEPLOY_SERVICES)
        assert not missing, f"{env}: add the IAM permission (with its reason) for {missing} to deploy_policy"
        granted = {a.split(":")[0] for s in statements(resources, "deploy") for a in s["Action"]}
        assert {DEPLOY_SERVICES[m] for m in modules} <= granted
        # Scoped by the stack's name where the program names things.
        by_sid = {s["Sid"]: s for s in statements(resources, "deploy")}
        assert by_sid["Buckets"]["Resource"] == [f"arn:aws:s3:::xyz-mlops-{env}-*", f"arn:aws:s3:::xyz-mlops-{env}-*/*"]
        assert by_sid["Registry"]["Resource"] == f"arn:aws:ecr:us-east-1:123456789012:repository/xyz-mlops-{env}/*"
        association = one(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "github-deploy")["inputs"]
        assert association["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")


def test_deploy_role_scopes_match_every_named_resource_of_the_preview(stacks):
    # Where deploy_policy scopes by name, every physical name the program declares must fall
    # inside the scope, or the first `pulumi up` fails with AccessDenied.
    prefix = "arn:aws:{}:us-east-1:123456789012:"
    named = {
        "Secrets": ("aws:secretsmanager/secret:Secret", lambda i: prefix.format("secretsmanager") + f"secret:{i['name']}-AbCdEf"),
        "Buckets": ("aws:s3/bucket:Bucket", lambda i: f"arn:aws:s3:::{i['bucket']}"),
        "Registry": ("aws:ecr/repository:Repository", lambda i: prefix.format("ecr") + f"repository/{i['name']}"),
        "Keys": ("aws:kms/alias:Alias", lambda i: prefix.format("kms") + i["name"]),
        "Logs": ("aws:cloudwatch/logGroup:LogGroup", lambda i: prefix.format("logs") + f"log-group:{i['name']}"),
        "Cluster": ("aws:eks/cluster:Cluster", lambda i: prefix.format("eks") + f"cluster/{i['name']}"),
    }
    for env, resources in stacks.items():
        by_sid = {s["Sid"]: s for s in statements(resources, "deploy")}
        for sid, (typ, arn_of) in named.items():
            patterns = by_sid[sid]["Resource"]
            patterns = [patterns] if isinstance(patterns, str) else patterns
            arns = [arn_of(r["inputs"]) for r in of_type(resources, typ)]
            assert arns, f"{env}: no {typ} in the preview"
            outside = [a for a in arns if not any(fnmatch.fnmatchcase(a, p) for p in patterns)]
            assert not outside, f"{env}: deploy statement {sid} does not cover {outside}"
        # The scope is the stack's own: another stack's bucket falls outside.
        other = "staging" if env != "staging" else "prod"
        assert not any(fnmatch.fnmatchcase(f"arn:aws:s3:::xyz-mlops-{other}-raw", p) for p in by_sid["Buckets"]["Resource"])


def test_subject_takes_a_branch_or_an_environment():
    assert subject("o/n", branch="main") == "repo:o/n:ref:refs/heads/main"
    assert subject("o/n", environment="prod") == "repo:o/n:environment:prod"
    for kwargs in ({}, {"branch": "main", "environment": "prod"}):
        with pytest.raises(ValueError):
            subject("o/n", **kwargs)


def test_an_existing_provider_replaces_the_stacks_own(tmp_path):
    existing = f"arn:aws:iam::210987654321:oidc-provider/{ISSUER}"
    doc = yaml.safe_load(open("stacks/Pulumi.staging.yaml"))
    doc["config"]["mlops:delivery"] = {"existingOidcProviderArn": existing, "repository": "acme/platform"}
    stack_file = tmp_path / "Pulumi.staging.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    result = run_preview(tmp_path / "out", "staging", stack_file=stack_file)
    assert result.returncode == 0, result.stderr
    resources = json.loads((tmp_path / "out" / "staging" / "resources.json").read_text())
    assert of_type(resources, PROVIDER) == []
    statement = trust(resources, "deploy")
    assert statement["Principal"] == {"Federated": existing}
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:sub"] == "repo:acme/platform:environment:staging"


def config_errors(delivery: dict) -> list[str]:
    raw = {**load_stack_config("prod"), "mlops:delivery": json.dumps(delivery)}
    with pytest.raises(ConfigError) as exc:
        load_platform_config(raw, "stacks/Pulumi.prod.yaml")
    return exc.value.lines


@pytest.mark.parametrize("delivery, expected", [
    ({"repository": "xyz-shopsmart/*"},
     "mlops:delivery.repository must be a GitHub repository `owner/name` without wildcards (got xyz-shopsmart/*)"),
    ({"repository": "xyz-shopsmart"},
     "mlops:delivery.repository must be a GitHub repository `owner/name` without wildcards (got xyz-shopsmart)"),
    # GitHub owners are at most 39 characters.
    ({"repository": "a" * 40 + "/platform"},
     f"mlops:delivery.repository must be a GitHub repository `owner/name` without wildcards (got {'a' * 40}/platform)"),
    ({"existingOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/accounts.google.com"},
     "mlops:delivery.existingOidcProviderArn must be an IAM OIDC provider ARN for token.actions.githubusercontent.com "
     "(arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com) "
     "(got arn:aws:iam::123456789012:oidc-provider/accounts.google.com)"),
    ({"deployEnvironment": "prod:*"},
     "mlops:delivery.deployEnvironment must be a GitHub branch or environment name (letters, digits, '.', '_', '/', '-'; "
     "no ':' or '*') (got prod:*)"),
])
def test_bad_delivery_config_is_one_line_naming_the_key(delivery, expected):
    assert config_errors(delivery) == [f"stacks/Pulumi.prod.yaml: {expected}"]


def test_delivery_config_bounds_accepted():
    raw = {**load_stack_config("prod"), "mlops:delivery": json.dumps(
        {"repository": "a" * 39 + "/x.y_z-1", "imagesBranch": "release/2026", "releaseEnvironment": "prod-release"})}
    delivery = load_platform_config(raw, "stacks/Pulumi.prod.yaml").delivery
    assert delivery.repository == "a" * 39 + "/x.y_z-1"
    assert (delivery.images_branch, delivery.deploy_environment, delivery.existing_oidc_provider_arn) == ("release/2026", "prod", None)
