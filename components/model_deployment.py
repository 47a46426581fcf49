"""One served model: its namespace, identity, cache secret, mesh policy, SeldonDeployment,
disruption budgets and scrape config, all derived from `models/<name>.yaml`.

Isolation is per model: a namespace of its own, a Pod Identity role that reads only
s3://<artifacts>/models/<name>/, mTLS required, and inference accepted only from the gateway.
"""
import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.models import ModelSpec, version_label

from .node_placement import SYSTEM_NODES
from .iam_policy import allow, output_policy
from .k8s_defaults import MODEL_NAMESPACE_LABELS, RESTRICTED_CONTAINER, pod_security_labels, restricted_pod, zone_spread
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs
from .seldon_contract import METRICS_PATH

SERVICE_ACCOUNT = "model-server"
REDIS_SECRET = "redis-auth"
MLFLOW_AUTH_SECRET = "mlflow-auth"
# The MLflow client contract: a directory with files `username` and `password`.
MLFLOW_AUTH_DIR = "/var/run/secrets/mlflow-auth"
# Seldon's executor: the container it adds to every predictor pod, and its HTTP/metrics port.
EXECUTOR_CONTAINER = "seldon-container-engine"
EXECUTOR_PORT = 8000
# The Open Inference Protocol server of services/serving: API, probes and /metrics on one port.
MODEL_PORT = 9000
MODEL_GRPC_PORT = 9500  # declared by Seldon on every model container; the server does not listen on it
# EKS Pod Identity agent: credential fetches go straight to it, not through the sidecar.
POD_IDENTITY_AGENT = "169.254.170.23/32"
HPA_CPU_UTILIZATION = 70


@dataclass(frozen=True)
class ModelPlatform:
    """What every served model uses from the rest of the platform."""
    cluster_name: pulumi.Input[str]
    region: str
    mlflow_tracking_uri: str
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    cache_host: pulumi.Input[str]
    cache_port: int
    cache_auth_token: pulumi.Input[str]
    # The MLflow user every model server reads the registry as (read-only by default).
    mlflow_username: str = ""
    mlflow_password: pulumi.Input[str] = ""


@dataclass(frozen=True)
class ModelDeploymentArgs:
    model: ModelSpec
    environment: str
    image: pulumi.Input[str]
    canary_image: pulumi.Input[str]
    gateway_principal: str
    platform: ModelPlatform


class ModelDeployment(pulumi.ComponentResource):
    namespace: str
    role_arn: pulumi.Output[str]
    predictors: list[str]

    def __init__(self, name: str, args: ModelDeploymentArgs, opts: pulumi.ResourceOptions):
        super().__init__("mlops:serving:ModelDeployment", name, None, opts)
        model, ns = args.model, args.model.name
        ha = args.environment != "dev"
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/name": model.name,
            "app.kubernetes.io/part-of": "mlops-platform",
            "platform.xyz/team": model.team,
            "platform.xyz/alert-team": model.alert_team,
        }

        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={
            "name": ns,
            # Every pod of the model gets a sidecar: mTLS in, Istio routing and telemetry.
            # Baseline, not restricted: Seldon 1.17's CRD gives its executor container no
            # securityContext, so allowPrivilegeEscalation=false and dropped capabilities cannot
            # be set on it. Istio CNI (serving_mesh.py) keeps istio-init's NET_ADMIN out.
            "labels": {**labels, "istio-injection": "enabled", **MODEL_NAMESPACE_LABELS,
                       **pod_security_labels("baseline")},
            "annotations": {"platform.xyz/alert-route": _alert_route(model)},
        }, opts=child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        meta = lambda object_name, **extra: {"name": object_name, "namespace": ns, "labels": labels, **extra}  # noqa: E731

        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(SERVICE_ACCOUNT), opts=in_ns)
        prefix = f"models/{model.name}"
        role = PodIdentityRole(f"{name}-server", PodIdentityRoleArgs(
            cluster_name=args.platform.cluster_name,
            namespace=ns,
            service_account=SERVICE_ACCOUNT,
            # Read-only, and only this model's prefix: one model's pods cannot read (or
            # overwrite) another model's artifacts.
            policy_json=output_policy(lambda bucket, key: [
                allow(["s3:GetObject"], f"{bucket}/{prefix}/*"),
                allow(["s3:ListBucket"], bucket, Condition={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}),
                allow(["kms:Decrypt"], key, Condition={"StringEquals": {"kms:ViaService": f"s3.{args.platform.region}.amazonaws.com"}}),
            ], args.platform.artifact_bucket_arn, args.platform.artifact_key_arn),
        ), opts=child)

        redis = k8s.core.v1.Secret(
            f"{name}-redis-auth",
            metadata=meta(REDIS_SECRET),
            type="Opaque",
            string_data={"auth-token": args.platform.cache_auth_token},
            opts=in_ns,
        )

        mlflow_auth = k8s.core.v1.Secret(
            f"{name}-mlflow-auth",
            metadata=meta(MLFLOW_AUTH_SECRET),
            type="Opaque",
            string_data={"username": args.platform.mlflow_username, "password": args.platform.mlflow_password},
            opts=in_ns,
        )

        selector = {"seldon-deployment-id": model.name}
        k8s.apiextensions.CustomResource(
            f"{name}-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=meta("default"),
            spec={"mtls": {"mode": "STRICT"}},
            opts=in_ns,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-scrape-ports",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=meta("metrics-scrape"),
            # Prometheus has no sidecar: the two metrics ports also take plain text. What plain
            # text may ask on them is cut down to GET of the metrics paths by the policy below.
            spec={
                "selector": {"matchLabels": selector},
                "mtls": {"mode": "STRICT"},
                "portLevelMtls": {str(EXECUTOR_PORT): {"mode": "PERMISSIVE"}, str(MODEL_PORT): {"mode": "PERMISSIVE"}},
            },
            opts=in_ns,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-callers",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta("callers"),
            spec={
                "selector": {"matchLabels": selector},
                "action": "ALLOW",
                "rules": [
                    # Inference: only through the ingress gateway (its mTLS identity).
                    {"from": [{"source": {"principals": [args.gateway_principal]}}]},
                    # Scrapes: metrics paths only, read only.
                    {"to": [
                        {"operation": {"ports": [str(EXECUTOR_PORT)], "methods": ["GET"], "paths": [METRICS_PATH]}},
                        {"operation": {"ports": [str(MODEL_PORT)], "methods": ["GET"], "paths": [METRICS_PATH]}},
                    ]},
                ],
            },
            opts=in_ns,
        )

        env = dict(account=account.metadata["name"], redis=redis.metadata["name"], mlflow=mlflow_auth.metadata["name"])
        stable = model.replicas_in(args.environment)
        predictors = [self._predictor(model, args, ha, "stable", model.model_uri, args.image,
                                      stable.min, stable.max, 100 - (model.canary.traffic_percent if model.canary else 0), env)]
        if model.canary is not None:
            # The canary takes a share of the traffic: it needs a share of the replicas, and
            # two at least where a node or zone loss must not take it down.
            canary_min = 2 if ha else 1
            canary_max = max(canary_min, math.ceil(stable.max * model.canary.traffic_percent / 100) + 1)
            predictors.append(self._predictor(model, args, ha, "canary", model.canary_uri, args.canary_image,
                                              canary_min, canary_max, model.canary.traffic_percent, env))

        sdep = k8s.apiextensions.CustomResource(
            f"{name}-sdep",
            api_version="machinelearning.seldon.io/v1",
            kind="SeldonDeployment",
            metadata=meta(model.name, annotations={
                "platform.xyz/slo-availability": str(model.slo.availability),
                "platform.xyz/slo-p99-latency-ms": str(model.slo.p99_latency_ms),
            }),
            spec={"name": model.name, "protocol": "v2", "predictors": predictors},
            opts=in_ns,
        )

        # One budget per predictor (Seldon's own pdbSpec selects the whole SeldonDeployment,
        # so two predictors would give each pod two budgets, which the eviction API refuses).
        # maxUnavailable, not minAvailable: drains always progress, even at the HPA floor.
        for predictor in predictors:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{predictor['name']}-pdb",
                metadata=meta(f"{model.name}-{predictor['name']}"),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": _pods_of(model.name, predictor["name"])}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[sdep]),
            )

        k8s.apiextensions.CustomResource(
            f"{name}-podmonitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=meta(model.name),
            spec={
                "selector": {"matchLabels": selector},
                "podMetricsEndpoints": [
                    # seldon_api_executor_*: what callers see (the SLIs). Both containers name
                    # a port `metrics`; the container name tells the two scrapes apart.
                    _scrape("metrics", METRICS_PATH, EXECUTOR_CONTAINER),
                    # model_server_*: inference time, cache hits, loaded version.
                    _scrape("metrics", METRICS_PATH, model_container(model)),
                ],
            },
            opts=in_ns,
        )

        self.namespace = ns
        self.role_arn = role.role_arn
        self.predictors = [p["name"] for p in predictors]
        self.register_outputs({"namespace": ns, "role_arn": role.role_arn, "predictors": self.predictors})

    @staticmethod
    def _predictor(model: ModelSpec, args: ModelDeploymentArgs, ha: bool, predictor: str, uri: str,
                   image: pulumi.Input[str], min_replicas: int, max_replicas: int, traffic: int,
                   env: dict[str, pulumi.Input[str]]) -> dict:
        pods = _pods_of(model.name, predictor)
        container = model_container(model)
        limits = {"memory": model.resources.memory}
        if model.resources.limits.cpu is not None:
            limits["cpu"] = model.resources.limits.cpu
        return {
            "name": predictor,
            "traffic": traffic,
            # Seldon's DestinationRule subsets and the executor's predictor_version read it.
            "labels": {"version": version_label(uri)},
            "componentSpecs": [{
                "metadata": {
                    "labels": {"platform.xyz/team": model.team, "platform.xyz/predictor": predictor},
                    "annotations": {"traffic.sidecar.istio.io/excludeOutboundIPRanges": POD_IDENTITY_AGENT},
                },
                "spec": {
                    "serviceAccountName": env["account"],
                    # The model server never calls the Kubernetes API.
                    "automountServiceAccountToken": False,
                    "securityContext": restricted_pod(),
                    "nodeSelector": SYSTEM_NODES,
                    # Seldon's preStop sleeps 10 s so the endpoints drop the pod before the
                    # server's 20 s graceful drain starts; both fit in this period.
                    "terminationGracePeriodSeconds": 40,
                    "topologySpreadConstraints": zone_spread(pods, strict=ha),
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        # Preferred, not required: 30 pods must fit on fewer nodes.
                        "weight": 100,
                        "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": pods}},
                    }]}},
                    "containers": [{
                        "name": container,
                        "image": image,
                        "ports": [
                            {"name": "http", "containerPort": MODEL_PORT, "protocol": "TCP"},
                            # Declared here so Seldon does not add a `metrics` port (6000) on
                            # which nothing listens: /metrics is served on the API port.
                            {"name": "metrics", "containerPort": MODEL_PORT, "protocol": "TCP"},
                        ],
                        "env": [
                            {"name": "MODEL_NAME", "value": model.name},
                            {"name": "MODEL_URI", "value": uri},
                            {"name": "MLFLOW_TRACKING_URI", "value": args.platform.mlflow_tracking_uri},
                            {"name": "MLFLOW_AUTH_DIR", "value": MLFLOW_AUTH_DIR},
                            {"name": "AWS_REGION", "value": args.platform.region},
                            {"name": "REDIS_HOST", "value": args.platform.cache_host},
                            {"name": "REDIS_PORT", "value": str(args.platform.cache_port)},
                            {"name": "REDIS_TLS", "value": "true"},
                            {"name": "REDIS_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": env["redis"], "key": "auth-token"}}},
                            {"name": "CACHE_TTL_SECONDS", "value": str(model.cache_ttl_seconds)},
                            # The server sizes its workers from its CPU request, which a
                            # container cannot otherwise see.
                            {"name": "CPU_REQUEST", "valueFrom": {"resourceFieldRef": {
                                "containerName": container, "resource": "requests.cpu", "divisor": "1m"}}},
                        ],
                        "resources": {"requests": {"cpu": model.resources.cpu, "memory": model.resources.memory}, "limits": limits},
                        # Ready once the model is loaded; live while the process answers. The
                        # startup probe gives a cold model download two minutes.
                        "startupProbe": _probe("/v2/health/live", period=2, failures=60),
                        "readinessProbe": _probe("/v2/health/ready", period=5, failures=3),
                        "livenessProbe": _probe("/v2/health/live", period=10, failures=3),
                        "securityContext": RESTRICTED_CONTAINER,
                        # The only writable paths: model cache and multiprocess metrics.
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                                         {"name": "mlflow-auth", "mountPath": MLFLOW_AUTH_DIR, "readOnly": True}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                                {"name": "mlflow-auth", "secret": {"secretName": env["mlflow"], "defaultMode": 0o440}}],
                },
                "hpaSpec": {
                    "minReplicas": min_replicas,
                    "maxReplicas": max_replicas,
                    # The model container's CPU, not the pod's: the executor and the sidecar
                    # would dilute the signal.
                    "metricsv2": [{"type": "ContainerResource", "containerResource": {
                        "name": "cpu", "container": container,
                        "target": {"type": "Utilization", "averageUtilization": HPA_CPU_UTILIZATION}}}],
                },
            }],
            "graph": {
                # The executor answers a model's ready and metadata routes only for a graph
                # node of that name, and Seldon runs a node in the container of its name.
                "name": container,
                "type": "MODEL",
                "endpoint": {"type": "REST", "httpPort": MODEL_PORT, "grpcPort": MODEL_GRPC_PORT},
                "children": [],
            },
            # Seldon's CRD has no securityContext for the executor: the pod-level context
            # (non-root, RuntimeDefault seccomp) is what applies to it.
            "svcOrchSpec": {
                "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                "env": [{"name": "SELDON_LOG_LEVEL", "value": "WARNING"}],
            },
        }


def model_container(model: ModelSpec) -> str:
    """The model server's container and graph node: named after the model (seldon_contract.py)."""
    return model.name


def _pods_of(model: str, predictor: str) -> dict[str, str]:
    # The label Seldon puts on the pods of one predictor (<deployment>-<predictor>).
    return {"seldon-app": f"{model}-{predictor}"}


def _probe(path: str, period: int, failures: int) -> dict:
    return {"httpGet": {"path": path, "port": MODEL_PORT}, "periodSeconds": period,
            "failureThreshold": failures, "timeoutSeconds": 2}


def _scrape(port: str, path: str, container: str) -> dict:
    return {
        "port": port,
        "path": path,
        "interval": "15s",
        "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_container_name"], "regex": container, "action": "keep"}],
    }


def _alert_route(model: ModelSpec) -> str:
    return f"team:{model.alert_team}"
