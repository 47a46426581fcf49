"""The serving data path: Istio (CRDs, istiod, an ingress gateway behind an internal AWS NLB) and
the Seldon Core v1 operator, which turns each SeldonDeployment into pods, an HPA and Istio routes.

Seldon Core is pinned to 1.17.1, its last Apache-2.0 release: from 1.18 on it is under the
Business Source License (see models/README.md for what that means for users).
"""
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .node_placement import SYSTEM_NODES
from .helm_release import ChartPin, helm_release
from .seldon_contract import METRICS_PATH
from .k8s_defaults import pod_security_labels

# Istio charts are released together and must move together (base carries the CRDs istiod
# serves). 1.30.3 is the newest release in Istio's repository as mirrored for this project
# (the 1.31 line had reached rc.0 there, so 1.31.4 could not be checked): its istioctl accepts
# Kubernetes 1.32+, its CI runs on 1.35, and schemas/crds/ holds the CRDs of exactly this tag.
ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
ISTIO_VERSION = "1.30.3"
ISTIO_BASE = ChartPin("base", ISTIO_VERSION, ISTIO_REPOSITORY)
ISTIOD = ChartPin("istiod", ISTIO_VERSION, ISTIO_REPOSITORY)
ISTIO_GATEWAY = ChartPin("gateway", ISTIO_VERSION, ISTIO_REPOSITORY)
# Istio CNI sets up each pod's traffic redirection from the node, so injected pods no longer
# need the istio-init container (NET_ADMIN, NET_RAW), which no Pod Security level short of
# `privileged` admits. Its DaemonSet is node plumbing: it runs in kube-system beside aws-node.
ISTIO_CNI = ChartPin("cni", ISTIO_VERSION, ISTIO_REPOSITORY)
CNI_NAMESPACE = "kube-system"
SELDON_CORE_OPERATOR = ChartPin("seldon-core-operator", "1.17.1", "https://storage.googleapis.com/seldon-charts")

ISTIO_NAMESPACE = "istio-system"
# The gateway gets a namespace of its own (Istio's recommendation): it is the one workload
# exposed to callers, and its Service is the only LoadBalancer of the platform.
GATEWAY_NAMESPACE = "istio-ingress"
GATEWAY_RELEASE = "istio-ingressgateway"  # the chart labels its pods istio=ingressgateway from it
GATEWAY_NAME = "seldon-gateway"
SELDON_NAMESPACE = "seldon-system"
# The identity mTLS proves for requests that come through the gateway; model namespaces
# accept inference calls from it alone.
GATEWAY_PRINCIPAL = f"cluster.local/ns/{GATEWAY_NAMESPACE}/sa/{GATEWAY_RELEASE}"


@dataclass(frozen=True)
class ServingMeshArgs:
    ingress_scheme: str  # "internal" | "internet-facing"
    gateway_replicas: int
    high_availability: bool
    # An ACM certificate for the NLB's TLS listener; None serves plaintext HTTP on port 80.
    certificate_arn: str | None = None


class ServingMesh(pulumi.ComponentResource):
    gateway: str
    gateway_principal: str
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: ServingMeshArgs, opts: pulumi.ResourceOptions):
        super().__init__("mlops:serving:ServingMesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ha = args.high_availability

        def namespace(ns: str, labels: dict[str, str] | None = None) -> k8s.core.v1.Namespace:
            return k8s.core.v1.Namespace(f"{name}-{ns}", metadata={
                "name": ns, "labels": {"app.kubernetes.io/part-of": "mlops-platform", **(labels or {})},
            }, opts=child)

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(resources))

        # Pod Security: istiod under restricted (non-root, drops all capabilities; the pod's
        # seccompProfile is set below). The gateway and the Seldon operator under baseline:
        # their charts' pod specs were not rendered offline to check every field restricted
        # asks for (the gateway's seccompProfile is set below); warn and audit report any gap
        # to restricted before it is raised.
        istio_ns = namespace(ISTIO_NAMESPACE, pod_security_labels("restricted"))
        # The gateway chart's pods ask for injection themselves (pod label), no namespace label.
        gateway_ns = namespace(GATEWAY_NAMESPACE, pod_security_labels("baseline"))
        seldon_ns = namespace(SELDON_NAMESPACE, pod_security_labels("baseline"))

        base = helm_release("istio-base", ISTIO_BASE, ISTIO_NAMESPACE, {
            "defaultRevision": "default",
        }, after(istio_ns))

        cni = helm_release("istio-cni", ISTIO_CNI, CNI_NAMESPACE, {
            "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "200Mi"}},
        }, after(base))

        istiod = helm_release("istiod", ISTIOD, ISTIO_NAMESPACE, {
            "pilot": {
                # Inject istio-validation (unprivileged) instead of istio-init: CNI redirects.
                "cni": {"enabled": True},
                "seccompProfile": {"type": "RuntimeDefault"},
                "autoscaleEnabled": ha,
                "autoscaleMin": 2 if ha else 1,
                "autoscaleMax": 5 if ha else 1,
                "replicaCount": 2 if ha else 1,
                "nodeSelector": SYSTEM_NODES,
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
            },
            "global": {
                # A PodDisruptionBudget for istiod: node drains never take the control plane away.
                "defaultPodDisruptionBudget": {"enabled": ha},
                "proxy": {
                    # Sidecar sizing for 10K req/s spread over 3-30 model pods.
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                },
            },
            "meshConfig": {
                "accessLogFile": "/dev/stdout",
                "accessLogEncoding": "JSON",
                "defaultConfig": {
                    # The model server loads its model from MLflow and S3 at start: the proxy
                    # must be up first, or the first calls fail and the pod restarts.
                    "holdApplicationUntilProxyStarts": True,
                },
            },
        }, after(base, cni))

        gateway_values = {
            "replicaCount": args.gateway_replicas,
            "autoscaling": {
                "enabled": ha,
                "minReplicas": args.gateway_replicas,
                "maxReplicas": max(args.gateway_replicas, 10) if ha else args.gateway_replicas,
                "targetCPUUtilizationPercentage": 70,
            },
            "podDisruptionBudget": {"maxUnavailable": 1} if ha else {},
            "service": {
                "type": "LoadBalancer",
                # The AWS Load Balancer Controller (not the in-tree controller) provisions an NLB
                # that sends traffic straight to the gateway pods' IPs (no node hop, no NodePort).
                "annotations": {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                    "service.beta.kubernetes.io/aws-load-balancer-scheme": args.ingress_scheme,
                    "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
                    **_tls_annotations(args.certificate_arn),
                },
                "ports": [
                    {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
                    # With a certificate the NLB terminates TLS on 443 and forwards to the
                    # gateway's HTTP port inside the VPC; without one, plain HTTP on 80.
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 80} if args.certificate_arn
                    else {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
                ],
            },
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "seccompProfile": {"type": "RuntimeDefault"},
            "nodeSelector": SYSTEM_NODES,
            "topologySpreadConstraints": [{
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule" if ha else "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"istio": "ingressgateway"}},
            }],
        }
        gateway = helm_release(GATEWAY_RELEASE, ISTIO_GATEWAY, GATEWAY_NAMESPACE, gateway_values,
                               after(gateway_ns, istiod))

        # Every SeldonDeployment's VirtualService binds to this Gateway (the operator's
        # istio.gateway value), so one NLB serves every model at /seldon/<namespace>/<model>/.
        k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata={"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE},
            spec={
                "selector": {"istio": "ingressgateway"},
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
            },
            opts=after(base, gateway),
        )

        operator = helm_release("seldon-core-operator", SELDON_CORE_OPERATOR, SELDON_NAMESPACE, {
            "istio": {"enabled": True, "gateway": f"{GATEWAY_NAMESPACE}/{GATEWAY_NAME}"},
            "ambassador": {"enabled": False},
            # No anonymous usage reporting from the cluster.
            "usageMetrics": {"enabled": False},
            "executor": {
                # The executor is the SLI: callers' latency and errors are measured there.
                "port": 8000,
                "metricsPortName": "metrics",
                # Also the PREDICTIVE_UNIT_METRICS_ENDPOINT every model container is given:
                # /metrics is what the model server serves (seldon_contract.py).
                "prometheus": {"path": METRICS_PATH},
                "resources": {"cpuRequest": "500m", "cpuLimit": "1", "memoryRequest": "512Mi", "memoryLimit": "512Mi"},
            },
            "manager": {"cpuRequest": "100m", "cpuLimit": "500m", "memoryRequest": "200Mi", "memoryLimit": "300Mi"},
        }, after(seldon_ns, istiod))

        self.gateway = f"{GATEWAY_NAMESPACE}/{GATEWAY_NAME}"
        self.gateway_principal = GATEWAY_PRINCIPAL
        # What a SeldonDeployment needs before it is created: its CRD and webhook (operator),
        # and the sidecar injector (istiod), or its first pods start outside the mesh.
        self.ready = [operator, istiod, base]
        self.register_outputs({"gateway": self.gateway, "gateway_principal": GATEWAY_PRINCIPAL})


def _tls_annotations(certificate_arn: str | None) -> dict[str, str]:
    """AWS Load Balancer Controller annotations for a TLS listener with an ACM certificate
    (the controller's "Service annotations" reference); none without a certificate."""
    if not certificate_arn:
        return {}
    return {
        "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": certificate_arn,
        "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "443",
        # TLS 1.2/1.3 only, forward secrecy (ELB's recommended policy for NLB TLS listeners).
        "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }
