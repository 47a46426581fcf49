"""Network isolation and least privilege as previewed: default-deny and named allows per
namespace, Pod Security labels, the pipeline namespace, MLflow authentication, scoped identities,
encrypted log groups (issue 10)."""
import json
import sys
from pathlib import Path

import pytest

from components.k8s_defaults import pod_security_labels
from components.k8s_defaults import MODEL_NAMESPACE_LABELS
from components.network_policies import service_cidr
from components.serving_mesh import _tls_annotations
from preview_run import STACKS, of_type, one

sys.path.insert(0, str(Path(__file__).parent / "policy"))
from policy_cases import CASES  # noqa: E402

from policy.offline import evaluate  # noqa: E402
from policy.pack import POLICIES  # noqa: E402

NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PSA = "pod-security.kubernetes.io/enforce"
# Every namespace the platform declares, one model (recsys) in every stack.
OWNED = {"airflow", "mlflow", "pipeline", "monitoring", "istio-system", "istio-ingress", "seldon-system", "recsys"}


def policies(resources, namespace):
    return {p["inputs"]["metadata"]["name"]: p["inputs"]["spec"]
            for p in of_type(resources, NETPOL) if p["inputs"]["metadata"]["namespace"] == namespace}


def namespaces_of(peer):
    exprs = peer.get("namespaceSelector", {}).get("matchExpressions", [])
    assert len(exprs) == 1 and exprs[0]["key"] == "kubernetes.io/metadata.name" and exprs[0]["operator"] == "In"
    return set(exprs[0]["values"])


def ingress_sources(spec):
    assert spec["policyTypes"] == ["Ingress"]
    return [(peer, rule.get("ports")) for rule in spec["ingress"] for peer in rule["from"]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_owned_namespace_is_default_deny_with_a_pod_security_level(stacks, stack):
    resources = stacks[stack]
    declared = {n["inputs"]["metadata"]["name"]: n["inputs"]["metadata"]["labels"] for n in of_type(resources, NAMESPACE)}
    assert set(declared) == OWNED
    for ns, labels in declared.items():
        assert labels[PSA] in ("restricted", "baseline"), ns
        assert labels["pod-security.kubernetes.io/warn"] == "restricted", ns
        mine = policies(resources, ns)
        assert mine["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, ns
        assert mine["allow-dns"]["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    # Restricted wherever the platform's own pod specs are in the preview.
    assert {ns for ns, labels in declared.items() if labels[PSA] == "restricted"} >= {"mlflow", "pipeline", "airflow", "istio-system"}


def test_vpc_cni_enforces_network_policies(stacks):
    for resources in stacks.values():
        cni = [a for a in of_type(resources, "aws:eks/addon:Addon") if a["inputs"]["addonName"] == "vpc-cni"]
        assert len(cni) == 1
        assert json.loads(cni[0]["inputs"]["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_pushgateway_takes_pushes_from_the_pipeline_namespace_only(stacks):
    for resources in stacks.values():
        monitoring = policies(resources, "monitoring")
        push = monitoring["allow-pushgateway"]
        assert push["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus-pushgateway"}}
        sources = ingress_sources(push)
        assert len(sources) == 2
        assert [namespaces_of(peer) for peer, _ in sources] == [{"pipeline"}, {"monitoring"}]
        assert sources[1][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        # The namespace-wide allow leaves the Pushgateway out.
        same = monitoring["allow-same-namespace"]["podSelector"]["matchExpressions"]
        assert same == [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["prometheus-pushgateway"]}]
        # And the pipeline may send there.
        out = policies(resources, "pipeline")["allow-pushgateway"]["egress"][0]
        assert out["ports"] == [{"protocol": "TCP", "port": 9091}]


def test_mlflow_and_models_admit_only_their_named_callers(stacks):
    for resources in stacks.values():
        mlflow = ingress_sources(policies(resources, "mlflow")["allow-clients"])
        assert len(mlflow) == 2
        named, labelled = mlflow
        assert namespaces_of(named[0]) == {"airflow", "pipeline"}
        # Model namespaces by their label (onboarding a model changes no MLflow policy).
        assert labelled[0] == {"namespaceSelector": {"matchLabels": MODEL_NAMESPACE_LABELS}}
        model_ns = one(resources, "kubernetes:core/v1:Namespace", "model-recsys-ns")["inputs"]["metadata"]
        assert MODEL_NAMESPACE_LABELS.items() <= model_ns["labels"].items()
        assert named[1] == labelled[1] == [{"protocol": "TCP", "port": 5000}]
        model = policies(resources, "recsys")
        gateway = ingress_sources(model["allow-gateway"])
        assert len(gateway) == 1 and namespaces_of(gateway[0][0]) == {"istio-ingress"}
        assert gateway[0][0]["podSelector"] == {"matchLabels": {"istio": "ingressgateway"}}
        assert {p["port"] for p in gateway[0][1]} == {8000, 9000}
        ingress_rules = {name for name, spec in model.items() if "Ingress" in spec["policyTypes"] and name != "default-deny"}
        assert ingress_rules == {"allow-gateway", "allow-scrape"}
        # Model pods reach the cache only on its port, in the VPC.
        cache = model["allow-cache"]["egress"][0]
        assert cache == {"to": [{"ipBlock": {"cidr": "10.40.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 6379}]}


def test_service_cidr_follows_the_eks_rule():
    # EKS: 172.20.0.0/16 when the VPC is inside 10.0.0.0/8, else 10.100.0.0/16.
    assert service_cidr("10.40.0.0/16") == "172.20.0.0/16"
    assert service_cidr("10.255.240.0/20") == "172.20.0.0/16"
    assert service_cidr("11.0.0.0/16") == "10.100.0.0/16"
    assert service_cidr("192.168.0.0/16") == "10.100.0.0/16"


def test_pod_security_labels_refuse_an_unknown_level():
    assert pod_security_labels("baseline")[PSA] == "baseline"
    with pytest.raises(ValueError, match="restricted, baseline, privileged"):
        pod_security_labels("strict")


def test_pipeline_namespace_identity_and_launch_rights(stacks):
    for stack, resources in stacks.items():
        bound = {(a["inputs"]["namespace"], a["inputs"]["serviceAccount"]): a["inputs"]["roleArn"]
                 for a in of_type(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation")}
        assert ("pipeline", "pipeline") in bound
        sa = one(resources, "kubernetes:core/v1:ServiceAccount", "pipeline-sa")["inputs"]
        assert sa["metadata"] == {"name": "pipeline", "namespace": "pipeline"} and sa["automountServiceAccountToken"] is False
        policy = json.loads(one(resources, "aws:iam/rolePolicy:RolePolicy", "pipeline-tasks")["inputs"]["policy"])
        writes = {r for s in policy["Statement"] if "s3:PutObject" in s["Action"]
                  for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
        account_region = f"123456789012-us-east-1"
        assert writes == {f"arn:aws:s3:::xyz-mlops-{stack}-features-{account_region}/*",
                          f"arn:aws:s3:::xyz-mlops-{stack}-mlflow-{account_region}/models/*"}
        role = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "pipeline-pod-launcher")["inputs"]
        assert role["metadata"]["namespace"] == "pipeline"
        assert {r for rule in role["rules"] for r in rule["resources"]} == {"pods", "pods/log", "events"}
        assert not {v for rule in role["rules"] for v in rule["verbs"]} & {"*", "escalate", "bind", "impersonate"}
        binding = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "pipeline-pod-launcher")["inputs"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "airflow"}]
        auth = one(resources, "kubernetes:core/v1:Secret", "pipeline-mlflow-auth")["inputs"]
        assert set(auth["stringData"]) == {"username", "password"} and auth["metadata"]["namespace"] == "pipeline"


def test_airflow_workers_no_longer_write_model_artifacts(stacks):
    for resources in stacks.values():
        policy = one(resources, "aws:iam/rolePolicy:RolePolicy", "airflow-airflow-worker")["inputs"]["policy"]
        assert "-mlflow-" not in policy and "-raw-" not in policy
        values = one(resources, "kubernetes:helm.sh/v3:Release", "airflow")["inputs"]["values"]
        assert values["networkPolicies"] == {"enabled": True}
        for component in ("scheduler", "workers", "apiServer", "triggerer", "dagProcessor", "statsd", "pgbouncer"):
            container = values[component]["securityContexts"]["container"]
            pod = values[component]["securityContexts"]["pod"]
            assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}, component
            assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}, component
        for component in ("scheduler", "workers", "apiServer", "triggerer", "dagProcessor", "statsd"):
            resources_ = values[component]["resources"]
            assert resources_["requests"]["cpu"] and resources_["limits"]["memory"] == resources_["requests"]["memory"], component


def test_mlflow_requires_authentication_and_clients_read_credentials_from_files(stacks):
    for resources in stacks.values():
        server = one(resources, "kubernetes:apps/v1:Deployment", "mlflow-server")["inputs"]["spec"]["template"]["spec"]
        args = server["containers"][0]["args"]
        assert args[args.index("--app-name") + 1] == "basic-auth" and "--no-serve-artifacts" in args
        assert server["automountServiceAccountToken"] is False
        assert server["initContainers"][0]["command"][1] == "/opt/mlflow-platform/provision_users.py"
        clients = one(resources, "kubernetes:core/v1:Secret", "mlflow-clients")["inputs"]["stringData"]
        assert set(clients) == {"pipeline", "model-server"}
        role = json.loads(one(resources, "aws:iam/rolePolicy:RolePolicy", "mlflow-server")["inputs"]["policy"])
        actions = {a for s in role["Statement"] for a in s["Action"]}
        assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "kms:Decrypt"}
        sdep = one(resources, "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment")["inputs"]["spec"]
        pods = [cs["spec"] for p in sdep["predictors"] for cs in p["componentSpecs"]]
        assert pods
        for pod in pods:
            assert pod["automountServiceAccountToken"] is False
            model = pod["containers"][0]
            env = {e["name"]: e for e in model["env"]}
            mounts = {m["mountPath"]: m["name"] for m in model["volumeMounts"]}
            assert mounts[env["MLFLOW_AUTH_DIR"]["value"]] == "mlflow-auth"
            volume = next(v for v in pod["volumes"] if v["name"] == "mlflow-auth")
            assert volume["secret"]["secretName"] == "mlflow-auth"


def test_grafana_reads_only_its_namespace(stacks):
    for resources in stacks.values():
        grafana = one(resources, "kubernetes:helm.sh/v3:Release", "kube-prometheus-stack")["inputs"]["values"]["grafana"]
        assert grafana["rbac"] == {"namespaced": True}
        assert "searchNamespace" not in grafana["sidecar"]["dashboards"]


def test_log_groups_encrypted_flow_log_role_bound_to_the_account(stacks):
    for resources in stacks.values():
        groups = of_type(resources, "aws:cloudwatch/logGroup:LogGroup")
        assert len(groups) >= 3  # flow logs, EKS control plane, MSK brokers (and Firehose's)
        assert all(g["inputs"]["kmsKeyId"] for g in groups)
        trust = json.loads(one(resources, "aws:iam/role:Role", "network-flow-logs")["inputs"]["assumeRolePolicy"])
        assert trust["Statement"][0]["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


@pytest.mark.parametrize("stack,protected", [("dev", False), ("staging", True), ("prod", True)])
def test_staging_databases_protected_as_in_prod(stacks, stack, protected):
    databases = of_type(stacks[stack], "aws:rds/instance:Instance")
    assert len(databases) == 2
    for db in databases:
        assert db["inputs"]["deletionProtection"] is protected
        assert db["inputs"]["skipFinalSnapshot"] is (not protected)


def test_load_balancer_controller_keeps_upstream_tag_conditions(stacks):
    policy = json.loads(one(stacks["prod"], "aws:iam/rolePolicy:RolePolicy", "cluster-addons-load-balancer-controller")["inputs"]["policy"])

    def resources_of(statement):
        return [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]

    unconditioned = [s for s in policy["Statement"] if "Condition" not in s]
    assert unconditioned
    # Deleting, creating or retagging load balancers, target groups and security groups needs
    # the controller's cluster tag (upstream's conditions); listeners and rules are tagged freely.
    for action in ("ec2:DeleteSecurityGroup", "elasticloadbalancing:DeleteLoadBalancer", "ec2:CreateTags",
                   "ec2:AuthorizeSecurityGroupIngress", "elasticloadbalancing:CreateLoadBalancer",
                   "elasticloadbalancing:ModifyTargetGroup"):
        assert not [s for s in unconditioned if action in s["Action"]], action
    tagging = [s for s in unconditioned if "elasticloadbalancing:AddTags" in s["Action"]]
    assert len(tagging) == 1
    assert all(":listener/" in r or ":listener-rule/" in r for r in resources_of(tagging[0]))
    # The NLB backend rules: only security groups of this cluster's VPC.
    authorize = [s for s in policy["Statement"] if "ec2:AuthorizeSecurityGroupIngress" in s["Action"] and "ArnEquals" in s.get("Condition", {})]
    assert len(authorize) == 1 and authorize[0]["Condition"]["ArnEquals"]["ec2:Vpc"].startswith("arn:aws:ec2:us-east-1:*:vpc/")


def test_gateway_tls_annotations_only_with_a_certificate():
    assert _tls_annotations(None) == {}
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"
    annotations = _tls_annotations(arn)
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == arn
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443"


def test_each_violating_resource_of_the_pod_launch_case_is_caught():
    env, _, violating = CASES["k8s-pod-launch-needs-pod-security"]
    policy = [p for p in POLICIES if p.name == "k8s-pod-launch-needs-pod-security"]
    found = {v.urn for v in evaluate(violating, env, policy)}
    names = {"pod-launcher", "pod-launcher-binding", "airflow", "cluster-pod-launcher-binding"}
    assert found == {r["urn"] for r in violating if r["name"] in names}
    assert len(found) == 4


def test_task_pod_template_reaches_airflow_workers_and_meets_restricted(stacks):
    import yaml
    for resources in stacks.values():
        cm = one(resources, "kubernetes:core/v1:ConfigMap", "pipeline-task-pod-template")["inputs"]
        assert cm["metadata"]["namespace"] == "airflow"
        pod = yaml.safe_load(cm["data"]["pipeline-task.yaml"])
        spec = pod["spec"]
        assert pod["metadata"]["namespace"] == "pipeline" and spec["serviceAccountName"] == "pipeline"
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (base,) = spec["containers"]
        assert base["name"] == "base"
        assert base["securityContext"]["allowPrivilegeEscalation"] is False and base["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "MLFLOW_AUTH_DIR", "value": "/var/run/secrets/mlflow-auth"} in base["env"]
        assert {"name": "mlflow-auth", "secret": {"secretName": "mlflow-auth", "defaultMode": 0o440}} in spec["volumes"]
        workers = one(resources, "kubernetes:helm.sh/v3:Release", "airflow")["inputs"]["values"]["workers"]
        assert workers["extraVolumes"][0]["configMap"]["name"] == cm["metadata"]["name"]
        assert workers["extraVolumeMounts"][0]["mountPath"] == "/opt/airflow/pod_templates"
