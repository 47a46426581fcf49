"""What every stack serves: Istio and Seldon pinned, recsys deployed, HA where it matters, and
each model isolated from the others."""
import json

import pytest

from components.serving_mesh import GATEWAY_PRINCIPAL, ISTIO_VERSION
from serving_support import RELEASE, STACKS, named, of_type, release, sdep

HA = {"dev": False, "staging": True, "prod": True}


def stable(spec: dict) -> dict:
    return next(p for p in spec["spec"]["predictors"] if p["name"] == "stable")


@pytest.mark.parametrize("stack", STACKS)
def test_istio_and_seldon_are_pinned(serving_preview, stack):
    found = serving_preview[stack]
    for name, chart in (("istio-base", "base"), ("istiod", "istiod"), ("istio-ingressgateway", "gateway")):
        r = release(found, name)
        assert (r["chart"], r["version"]) == (chart, ISTIO_VERSION)
    seldon = release(found, "seldon-core-operator")
    # 1.17.1: the last Apache-2.0 release; 1.18+ is under the Business Source License.
    assert (seldon["chart"], seldon["version"]) == ("seldon-core-operator", "1.17.1")
    assert seldon["values"]["istio"] == {"enabled": True, "gateway": "istio-ingress/seldon-gateway"}
    for r in of_type(found, RELEASE):
        assert r["inputs"]["createNamespace"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_is_an_nlb_through_the_load_balancer_controller(serving_preview, stack):
    service = release(serving_preview[stack], "istio-ingressgateway")["values"]["service"]
    annotations = service["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    gateway = named(serving_preview[stack], "kubernetes:networking.istio.io/v1:Gateway", "serving-mesh-gateway")["inputs"]
    assert gateway["metadata"] == {"name": "seldon-gateway", "namespace": "istio-ingress"}


@pytest.mark.parametrize("stack,floor,ceiling", [("dev", 1, 2), ("staging", 2, 6), ("prod", 3, 30)])
def test_recsys_scales_within_its_file(serving_preview, stack, floor, ceiling):
    spec = sdep(serving_preview[stack], "recsys")
    assert spec["spec"]["protocol"] == "v2"
    # models/recsys.yaml declares a 10% canary: the stable predictor keeps the other 90%.
    assert [p["name"] for p in spec["spec"]["predictors"]] == ["stable", "canary"]
    predictor = stable(spec)
    assert predictor["traffic"] == 90
    hpa = predictor["componentSpecs"][0]["hpaSpec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (floor, ceiling)
    assert predictor["graph"]["type"] == "MODEL"


@pytest.mark.parametrize("stack", STACKS)
def test_recsys_pods_spread_and_survive_drains(serving_preview, stack):
    found = serving_preview[stack]
    pod = stable(sdep(found, "recsys"))["componentSpecs"][0]["spec"]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["whenUnsatisfiable"] == ("DoNotSchedule" if HA[stack] else "ScheduleAnyway")
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pdb = named(found, "kubernetes:policy/v1:PodDisruptionBudget", "model-recsys-stable-pdb")["inputs"]
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"seldon-app": "recsys-stable"}}}
    (model,) = pod["containers"]
    assert model["resources"]["requests"]["memory"] == model["resources"]["limits"]["memory"]
    assert model["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert model["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    security = model["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("stack", STACKS)
def test_recsys_reaches_its_cache_and_registry(serving_preview, stack):
    container = stable(sdep(serving_preview[stack], "recsys"))["componentSpecs"][0]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_TLS"]["value"] == "true"
    assert env["REDIS_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "redis-auth", "key": "auth-token"}}
    assert env["MODEL_URI"]["value"] == "models:/recsys@champion"
    assert env["MLFLOW_TRACKING_URI"]["value"].startswith("http://mlflow.")
    assert container["image"].endswith(f"/xyz-mlops-{stack}/serving:1.0.0")
    secret = named(serving_preview[stack], "kubernetes:core/v1:Secret", "model-recsys-redis-auth")["inputs"]
    assert secret["metadata"]["namespace"] == "recsys"
    assert secret["stringData"] == {"auth-token": "[secret]"}  # masked: a secret Output


@pytest.mark.parametrize("stack", STACKS)
def test_recsys_is_isolated(serving_preview, stack):
    found = serving_preview[stack]
    ns = named(found, "kubernetes:core/v1:Namespace", "model-recsys-ns")["inputs"]["metadata"]
    assert ns["name"] == "recsys" and ns["labels"]["istio-injection"] == "enabled"
    association = named(found, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "model-recsys-server")["inputs"]
    assert (association["namespace"], association["serviceAccount"]) == ("recsys", "model-server")
    policy = json.loads(named(found, "aws:iam/rolePolicy:RolePolicy", "model-recsys-server")["inputs"]["policy"])
    actions = sorted(a for s in policy["Statement"] for a in s["Action"])
    assert actions == ["kms:Decrypt", "s3:GetObject", "s3:ListBucket"]  # read only
    get = next(s for s in policy["Statement"] if s["Action"] == ["s3:GetObject"])
    assert get["Resource"].endswith("/models/recsys/*")
    listing = next(s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/recsys", "models/recsys/*"]}}
    peer = named(found, "kubernetes:security.istio.io/v1:PeerAuthentication", "model-recsys-mtls")["inputs"]
    assert peer["metadata"]["namespace"] == "recsys" and peer["spec"] == {"mtls": {"mode": "STRICT"}}
    callers = named(found, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "model-recsys-callers")["inputs"]["spec"]
    assert callers["rules"][0] == {"from": [{"source": {"principals": [GATEWAY_PRINCIPAL]}}]}
    scrapes = [op["operation"] for op in callers["rules"][1]["to"]]
    assert len(scrapes) >= 1
    assert all(op["methods"] == ["GET"] for op in scrapes)


@pytest.mark.parametrize("stack", STACKS)
def test_recsys_is_scraped_model_and_executor(serving_preview, stack):
    monitor = named(serving_preview[stack], "kubernetes:monitoring.coreos.com/v1:PodMonitor", "model-recsys-podmonitor")["inputs"]
    endpoints = {(e["path"], e["relabelings"][0]["regex"]) for e in monitor["spec"]["podMetricsEndpoints"]}
    # The operator gives the executor and (PREDICTIVE_UNIT_METRICS_ENDPOINT) the model container
    # one metrics path; the model server serves /metrics (tests/serving/test_executor_routes.py).
    path = release(serving_preview[stack], "seldon-core-operator")["values"]["executor"]["prometheus"]["path"]
    assert path == "/metrics"
    # The model container is named after the model, like its graph node.
    assert endpoints == {(path, "seldon-container-engine"), (path, "recsys")}
    callers = named(serving_preview[stack], "kubernetes:security.istio.io/v1:AuthorizationPolicy",
                    "model-recsys-callers")["inputs"]["spec"]
    assert {p for op in callers["rules"][1]["to"] for p in op["operation"]["paths"]} == {path}
    assert monitor["spec"]["selector"] == {"matchLabels": {"seldon-deployment-id": "recsys"}}
