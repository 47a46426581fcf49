"""The Airflow deployment gives the DAGs' steps what they read (issue 13): every Variable and
environment variable the DAG code uses is set by the program, each location is a bucket of the
stack that the pipeline role may use as the step does, and each service a step calls is one its
pod may reach through the previewed NetworkPolicies.

The DAG side is read from the DAG sources (dags/step_args.py, dags/pipeline_tasks.py): a Variable
or variable added there and not wired here fails this test.
"""
import ast
import fnmatch
import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from components.network_policies import PROMETHEUS_PODS, PUSHGATEWAY_PODS
from components.observability import PROMETHEUS_RELEASE, PUSHGATEWAY_RELEASE
from preview_run import STACKS, of_type, one

DAGS = Path(__file__).resolve().parents[1] / "dags"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PIPELINE_NS = "pipeline"
# Pods behind the charts' Services (not rendered offline): prometheus-operator labels its
# Prometheus pods app.kubernetes.io/name=prometheus; the Pushgateway chart its pods by chart name.
CHART_SERVICE_PODS = {f"{PROMETHEUS_RELEASE}-prometheus": PROMETHEUS_PODS, PUSHGATEWAY_RELEASE: PUSHGATEWAY_PODS}
# What each location's step does with it (dags/training.py, dags/drift.py): the action the
# pipeline role must allow under the location's prefix.
LOCATION_ACCESS = {"mlops_raw_lake": "s3:GetObject", "mlops_features": "s3:PutObject",
                   "mlops_work": "s3:PutObject", "mlops_artifact_root": "s3:PutObject"}
# `register` logs a model's runs under models/<model>/ of the artifact root.
ARTIFACT_SUBPATH = {"mlops_artifact_root": "models/recsys/run/model.onnx"}


def dag_variables() -> list[str]:
    names = re.findall(r"var\.value\.get\('([a-z_]+)'", (DAGS / "step_args.py").read_text())
    assert len(names) == len(set(names)) >= 4, names
    return names


def dag_environment() -> list[str]:
    """PASSED_ENV of dags/pipeline_tasks.py and every os.environ read there, PIPELINE_RUNNER's and
    PIPELINE_PYTHON's (the local runner's) aside."""
    tree = ast.parse((DAGS / "pipeline_tasks.py").read_text())
    passed = [node.value for assign in tree.body if isinstance(assign, ast.Assign)
              and any(getattr(t, "id", None) == "PASSED_ENV" for t in assign.targets)
              for node in ast.walk(assign.value) if isinstance(node, ast.Constant)]
    read = [call.args[0].value for call in ast.walk(tree) if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute) and call.func.attr == "get" and call.args
            and ast.unparse(call.func.value) == "os.environ" and isinstance(call.args[0], ast.Constant)]
    names = sorted({*passed, *read} - {"PIPELINE_RUNNER", "PIPELINE_PYTHON"})
    assert len(passed) >= 3 and "PIPELINE_IMAGE" in names, names
    return names


def airflow_env(resources) -> dict[str, str]:
    env = one(resources, "kubernetes:helm.sh/v3:Release", "airflow")["inputs"]["values"]["env"]
    assert len(env) == len({e["name"] for e in env}), "an environment variable set twice"
    return {e["name"]: e["value"] for e in env}


def allows(policy: dict, action: str, arn: str) -> bool:
    """Whether an Allow statement without conditions grants `action` on `arn` (wildcards as IAM)."""
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if (statement["Effect"] == "Allow" and "Condition" not in statement
                and any(fnmatch.fnmatchcase(action, a) for a in actions)
                and any(fnmatch.fnmatchcase(arn, r) for r in arns)):
            return True
    return False


def selects(selector: dict, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        present, value = e["key"] in labels, labels.get(e["key"])
        ok = {"In": present and value in e.get("values", []), "NotIn": value not in e.get("values", []),
              "Exists": present, "DoesNotExist": not present}[e["operator"]]
        if not ok:
            return False
    return True


def peer_matches(peer: dict, namespace_labels: dict, pod_labels: dict) -> bool:
    # ipBlock peers name addresses outside the cluster; a Service's pods are reached by selector.
    if "ipBlock" in peer:
        return False
    return (selects(peer.get("namespaceSelector", {}), namespace_labels) if "namespaceSelector" in peer else False) \
        and selects(peer.get("podSelector", {}), pod_labels)


def admitted(policies: list[dict], namespace: str, pod: dict, direction: str, peer_ns: dict, peer_pod: dict,
             port: int) -> bool:
    """Whether `namespace`'s policies let its pod `pod` talk `direction` (Egress/Ingress) with the
    peer on TCP `port`: some policy selecting the pod for that direction has a rule naming both."""
    key, side = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    for spec in policies:
        if spec["metadata"]["namespace"] != namespace or direction not in spec["spec"]["policyTypes"]:
            continue
        if not selects(spec["spec"]["podSelector"], pod):
            continue
        for rule in spec["spec"].get(key, []):
            ports = rule.get("ports")
            if ports and not any(p.get("protocol", "TCP") == "TCP" and p["port"] == port for p in ports):
                continue
            if any(peer_matches(peer, peer_ns, peer_pod) for peer in rule.get(side, [])):
                return True
    return False


def service_pods(resources, service: str, namespace: str) -> dict:
    declared = [s for s in of_type(resources, "kubernetes:core/v1:Service")
                if (s["inputs"]["metadata"].get("name"), s["inputs"]["metadata"].get("namespace")) == (service, namespace)]
    if declared:
        assert len(declared) == 1
        return declared[0]["inputs"]["spec"]["selector"]
    assert service in CHART_SERVICE_PODS, f"{service}.{namespace}: no Service declared and no chart Service known"
    return CHART_SERVICE_PODS[service]


def namespace_labels(resources, name: str) -> dict:
    found = [n["inputs"]["metadata"] for n in of_type(resources, "kubernetes:core/v1:Namespace")
             if n["inputs"]["metadata"]["name"] == name]
    assert len(found) == 1, name
    return {"kubernetes.io/metadata.name": name, **found[0].get("labels", {})}


@pytest.mark.parametrize("stack", STACKS)
def test_every_variable_the_dags_read_is_a_location_the_pipeline_role_may_use(stacks, stack):
    resources = stacks[stack]
    env = airflow_env(resources)
    buckets = {b["inputs"]["bucket"] for b in of_type(resources, "aws:s3/bucket:Bucket")}
    policy = json.loads(one(resources, "aws:iam/rolePolicy:RolePolicy", "pipeline-tasks")["inputs"]["policy"])
    variables = dag_variables()
    assert set(variables) == set(LOCATION_ACCESS)
    for variable in variables:
        uri = urlparse(env[f"AIRFLOW_VAR_{variable.upper()}"])
        assert uri.scheme == "s3" and uri.netloc in buckets, (variable, uri.geturl())
        prefix = uri.path.strip("/")
        key = "/".join(p for p in (prefix, ARTIFACT_SUBPATH.get(variable, "recsys/20260309T030000/model.onnx")) if p)
        assert allows(policy, LOCATION_ACCESS[variable], f"arn:aws:s3:::{uri.netloc}/{key}"), (variable, key)


@pytest.mark.parametrize("stack", STACKS)
def test_every_environment_variable_the_dags_pass_to_steps_is_set(stacks, stack):
    resources = stacks[stack]
    env = airflow_env(resources)
    names = dag_environment()
    missing = [n for n in names if n not in env]
    assert missing == []
    repository = one(resources, "aws:ecr/repository:Repository", "registry-pipeline")["inputs"]["name"]
    image, tag = env["PIPELINE_IMAGE"].rsplit(":", 1)
    assert image.endswith(f".amazonaws.com/{repository}") and tag not in ("", "latest")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == image.split(".")[3]


@pytest.mark.parametrize("stack", STACKS)
def test_step_pods_reach_every_service_they_are_given(stacks, stack):
    resources = stacks[stack]
    env = airflow_env(resources)
    policies = [p["inputs"] for p in of_type(resources, NETPOL)]
    urls = [name for name in dag_environment() if name.endswith("_URI") or name.endswith("_URL")]
    assert len(urls) == 3, urls
    pipeline_ns = namespace_labels(resources, PIPELINE_NS)
    for name in urls:
        url = urlparse(env[name])
        service, namespace, *rest = url.hostname.split(".")
        assert rest == ["svc", "cluster", "local"] and url.port, env[name]
        pods, target_ns = service_pods(resources, service, namespace), namespace_labels(resources, namespace)
        # Task pods carry no label the policies could rely on: {} stands for any of them.
        assert admitted(policies, PIPELINE_NS, {}, "Egress", target_ns, pods, url.port), (name, "egress")
        assert admitted(policies, namespace, pods, "Ingress", pipeline_ns, {}, url.port), (name, "ingress")


def test_the_reachability_check_refuses_a_missing_allow(stacks):
    resources = stacks["dev"]
    policies = [p["inputs"] for p in of_type(resources, NETPOL)]
    monitoring, pipeline_ns = namespace_labels(resources, "monitoring"), namespace_labels(resources, PIPELINE_NS)
    assert admitted(policies, PIPELINE_NS, {}, "Egress", monitoring, PROMETHEUS_PODS, 9090)
    # Without the pipeline's egress to Prometheus, or on another port, or to another pod: refused.
    without = [p for p in policies if (p["metadata"]["namespace"], p["metadata"]["name"]) != (PIPELINE_NS, "allow-prometheus")]
    assert len(without) == len(policies) - 1
    assert not admitted(without, PIPELINE_NS, {}, "Egress", monitoring, PROMETHEUS_PODS, 9090)
    assert not admitted(policies, PIPELINE_NS, {}, "Egress", monitoring, PROMETHEUS_PODS, 9093)
    assert not admitted(policies, PIPELINE_NS, {}, "Egress", monitoring, {"app.kubernetes.io/name": "grafana"}, 9090)
    # Prometheus admits the pipeline's queries; Grafana's port is not opened to it.
    assert admitted(policies, "monitoring", PROMETHEUS_PODS, "Ingress", pipeline_ns, {}, 9090)
    assert not admitted(policies, "monitoring", {"app.kubernetes.io/name": "grafana"}, "Ingress", pipeline_ns, {}, 3000)


def test_iam_check_matches_only_what_is_granted():
    policy = {"Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/models/*"},
                            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::c/*",
                             "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}
    assert allows(policy, "s3:PutObject", "arn:aws:s3:::b/models/x")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::b/runs/x")
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::b/models/x")
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::c/x")  # conditional: not counted
