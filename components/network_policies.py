"""Who may talk to whom inside the cluster: a default-deny NetworkPolicy (ingress and egress) in
every namespace the platform owns, then one named allow per caller.

Enforced by the VPC CNI's network policy agent (components/eks_managed_addons.py turns it on).
The agent always lets a pod's own node in (kubelet probes), so probes need no rule here.
kube-system is not listed: it holds EKS's own add-ons (CoreDNS, aws-node, kube-proxy), which
AWS manages and whose traffic a default-deny would cut (README, "Security").

The README's "who can talk to whom" tables are this file read aloud; tests/test_isolation.py
checks the previewed policies against the same matrix."""
from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_kubernetes as k8s

from .k8s_defaults import MODEL_NAMESPACE_LABELS

DNS_PORT = 53
# EKS Pod Identity agent: a link-local address on every node, plain HTTP.
POD_IDENTITY_AGENT = "169.254.170.23/32"
HTTPS = 443
# istiod: xDS and certificates for sidecars and gateways (15012), the injection and validation
# webhooks the API server calls (15017), its own metrics (15014).
ISTIOD_XDS, ISTIOD_WEBHOOK, ISTIOD_METRICS = 15012, 15017, 15014
# Every Envoy (sidecar or gateway): merged Prometheus metrics (15020) and Envoy's own (15090).
ENVOY_METRICS = (15020, 15090)
GATEWAY_STATUS = 15021
# The Seldon 1.17 operator's admission webhook and metrics; prometheus-operator's webhook.
SELDON_WEBHOOK, SELDON_METRICS = 4443, 8080
PROMETHEUS_OPERATOR_WEBHOOK = 10250
AIRFLOW_STATSD_METRICS = 9102

PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
PUSHGATEWAY_PODS = {"app.kubernetes.io/name": "prometheus-pushgateway"}
ISTIOD_PODS = {"app": "istiod"}
GATEWAY_PODS = {"istio": "ingressgateway"}
KUBE_DNS_PODS = {"k8s-app": "kube-dns"}


@dataclass(frozen=True)
class NetworkIsolationArgs:
    vpc_cidr: str
    mlflow_namespace: str
    mlflow_port: int
    airflow_namespace: str
    pipeline_namespace: str
    monitoring_namespace: str
    pushgateway_port: int
    prometheus_port: int
    istio_namespace: str
    gateway_namespace: str
    seldon_namespace: str
    model_namespaces: list[str]
    # Ports of a model pod: Seldon's executor (the gateway's target) and the model server.
    model_ports: list[int]
    postgres_port: int
    cache_port: int
    kafka_port: int


def service_cidr(vpc_cidr: str) -> str:
    """The Service CIDR EKS picks when none is given: 172.20.0.0/16 for a VPC inside 10.0.0.0/8,
    else 10.100.0.0/16 (EKS user guide, `serviceIpv4Cidr`). Egress to the API server through the
    `kubernetes` Service is matched before the node rewrites the ClusterIP."""
    return "172.20.0.0/16" if IPv4Network(vpc_cidr).subnet_of(IPv4Network("10.0.0.0/8")) else "10.100.0.0/16"


def namespace_peer(*namespaces: str, pods: dict[str, str] | None = None) -> dict:
    # kubernetes.io/metadata.name: the label the API server sets on every namespace.
    selector: dict = {"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}]}}
    if pods:
        selector["podSelector"] = {"matchLabels": pods}
    return selector


def cidr_peer(cidr: str) -> dict:
    return {"ipBlock": {"cidr": cidr}}


def tcp(*ports: int) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _selector(pods: dict | None) -> dict:
    # Labels as a plain mapping, or a full selector (matchExpressions) as is.
    if not pods:
        return {}
    return pods if "matchExpressions" in pods else {"matchLabels": pods}


def ingress(name: str, sources: list[dict], ports: list[dict] | None, pods: dict | None = None) -> tuple[str, dict]:
    """One allow: `sources` may reach the selected pods (all of the namespace's by default) on
    `ports` (every port when None)."""
    rule: dict = {"from": sources}
    if ports:
        rule["ports"] = ports
    return name, {"podSelector": _selector(pods), "policyTypes": ["Ingress"], "ingress": [rule]}


def egress(name: str, targets: list[dict], ports: list[dict] | None, pods: dict | None = None) -> tuple[str, dict]:
    rule: dict = {"to": targets}
    if ports:
        rule["ports"] = ports
    return name, {"podSelector": _selector(pods), "policyTypes": ["Egress"], "egress": [rule]}


DEFAULT_DENY = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
ALLOW_DNS = egress("allow-dns", [namespace_peer("kube-system", pods=KUBE_DNS_PODS)],
                   [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}])
# S3 (through the gateway endpoint, still S3's public addresses), STS and ECR answer on 443 at
# addresses no NetworkPolicy can name (AWS prefix lists): 443 to anywhere, plus the Pod
# Identity agent for credentials. The VPC's security groups and NAT still apply.
ALLOW_AWS_APIS = egress("allow-aws-apis", [cidr_peer("0.0.0.0/0")], tcp(HTTPS))
ALLOW_POD_IDENTITY = egress("allow-pod-identity", [cidr_peer(POD_IDENTITY_AGENT)], tcp(80))


def traffic_matrix(args: NetworkIsolationArgs) -> dict[str, dict[str, dict]]:
    """namespace -> policy name -> NetworkPolicy spec, default-deny and DNS included."""
    vpc = cidr_peer(args.vpc_cidr)
    api_server = [vpc, cidr_peer(service_cidr(args.vpc_cidr))]
    prometheus = namespace_peer(args.monitoring_namespace, pods=PROMETHEUS_PODS)
    istiod = egress("allow-istiod", [namespace_peer(args.istio_namespace, pods=ISTIOD_PODS)], tcp(ISTIOD_XDS))
    mlflow = egress("allow-mlflow", [namespace_peer(args.mlflow_namespace)], tcp(args.mlflow_port))
    models = args.model_namespaces
    model_pods = {"namespaceSelector": {"matchLabels": dict(MODEL_NAMESPACE_LABELS)}}

    matrix: dict[str, list[tuple[str, dict]]] = {
        args.mlflow_namespace: [
            ingress("allow-clients", [namespace_peer(args.airflow_namespace, args.pipeline_namespace), model_pods],
                    tcp(args.mlflow_port)),
            # The metadata database: RDS in the private subnets (its security group admits the cluster).
            egress("allow-database", [vpc], tcp(args.postgres_port)),
            ALLOW_AWS_APIS, ALLOW_POD_IDENTITY,
        ],
        args.airflow_namespace: [
            # The chart's own policies (networkPolicies.enabled) admit its components' callers;
            # these add what the chart does not know: scraping, and every egress.
            ingress("allow-scrape", [prometheus], tcp(AIRFLOW_STATSD_METRICS), pods={"component": "statsd"}),
            # Scheduler, workers and API server reach PgBouncer, StatsD and each other.
            egress("allow-same-namespace", [namespace_peer(args.airflow_namespace)], None),
            egress("allow-database", [vpc], tcp(args.postgres_port)),
            mlflow,
            # KubernetesExecutor: the scheduler starts task pods through the API server.
            egress("allow-kubernetes-api", api_server, tcp(HTTPS)),
            # git-sync (the DAG repository), S3 task logs.
            ALLOW_AWS_APIS, ALLOW_POD_IDENTITY,
        ],
        args.pipeline_namespace: [
            mlflow,
            egress("allow-pushgateway", [namespace_peer(args.monitoring_namespace, pods=PUSHGATEWAY_PODS)],
                   tcp(args.pushgateway_port)),
            # The release controller's canary analysis reads Prometheus's query API.
            egress("allow-prometheus", [prometheus], tcp(args.prometheus_port)),
            # Ingestion reads Kafka (MSK, IAM over TLS) in the private subnets.
            egress("allow-kafka", [vpc], tcp(args.kafka_port)),
            ALLOW_AWS_APIS, ALLOW_POD_IDENTITY,
        ],
        args.monitoring_namespace: [
            # Grafana -> Prometheus -> Alertmanager, operator, kube-state-metrics; never the
            # Pushgateway, which has its own rule below.
            ingress("allow-same-namespace", [namespace_peer(args.monitoring_namespace)], None, pods={"matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": [PUSHGATEWAY_PODS["app.kubernetes.io/name"]]}]}),
            # Pushes come from pipeline tasks only; Prometheus scrapes the same port.
            ingress("allow-pushgateway", [namespace_peer(args.pipeline_namespace), prometheus],
                    tcp(args.pushgateway_port), pods=PUSHGATEWAY_PODS),
            # Canary analysis from pipeline tasks: Prometheus's query API only.
            ingress("allow-canary-analysis", [namespace_peer(args.pipeline_namespace)],
                    tcp(args.prometheus_port), pods=PROMETHEUS_PODS),
            ingress("allow-webhook", [vpc], tcp(PROMETHEUS_OPERATOR_WEBHOOK)),
            # Prometheus scrapes pods in every namespace and nodes (kubelet, node-exporter).
            egress("allow-scrape", [{"namespaceSelector": {}}, vpc], None),
            egress("allow-kubernetes-api", api_server, tcp(HTTPS)),
            # Alertmanager -> PagerDuty and Slack; Grafana's sidecar -> the API server.
            ALLOW_AWS_APIS,
        ],
        args.istio_namespace: [
            ingress("allow-mesh", [namespace_peer(args.gateway_namespace), model_pods], tcp(ISTIOD_XDS)),
            ingress("allow-webhook", [vpc], tcp(ISTIOD_WEBHOOK)),
            ingress("allow-scrape", [prometheus], tcp(ISTIOD_METRICS)),
            egress("allow-kubernetes-api", api_server, tcp(HTTPS)),
        ],
        args.gateway_namespace: [
            # The NLB sends to the gateway pods' IPs from its addresses in the VPC (client IP
            # preservation is off for IP targets), and health-checks the status port.
            ingress("allow-load-balancer", [vpc], tcp(80, HTTPS, GATEWAY_STATUS), pods=GATEWAY_PODS),
            ingress("allow-scrape", [prometheus], tcp(*ENVOY_METRICS)),
            egress("allow-models", [model_pods], tcp(*args.model_ports)),
            istiod,
        ],
        args.seldon_namespace: [
            ingress("allow-webhook", [vpc], tcp(SELDON_WEBHOOK)),
            ingress("allow-scrape", [prometheus], tcp(SELDON_METRICS)),
            egress("allow-kubernetes-api", api_server, tcp(HTTPS)),
        ],
    }
    for ns in models:
        matrix[ns] = [
            # Inference only through the ingress gateway (Istio's AuthorizationPolicy checks
            # the gateway's mTLS identity on top).
            ingress("allow-gateway", [namespace_peer(args.gateway_namespace, pods=GATEWAY_PODS)], tcp(*args.model_ports)),
            ingress("allow-scrape", [prometheus], tcp(*args.model_ports, *ENVOY_METRICS)),
            istiod, mlflow,
            egress("allow-cache", [vpc], tcp(args.cache_port)),
            ALLOW_AWS_APIS, ALLOW_POD_IDENTITY,
        ]
    dns_name, dns_spec = ALLOW_DNS
    return {ns: {"default-deny": DEFAULT_DENY, dns_name: dns_spec, **dict(r for r in rules if r)}
            for ns, rules in matrix.items()}


class NetworkIsolation(pulumi.ComponentResource):
    """Declares the matrix. Each namespace must already exist: pass it in `opts.depends_on`."""

    def __init__(self, name: str, args: NetworkIsolationArgs, opts: pulumi.ResourceOptions):
        super().__init__("mlops:security:NetworkIsolation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        matrix = traffic_matrix(args)
        for ns, policies in sorted(matrix.items()):
            for policy, spec in policies.items():
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{ns}-{policy}",
                    metadata={"name": policy, "namespace": ns,
                              "labels": {"app.kubernetes.io/part-of": "mlops-platform"}},
                    spec=spec,
                    opts=child,
                )
        self.namespaces = sorted(matrix)
        self.register_outputs({"namespaces": self.namespaces})
