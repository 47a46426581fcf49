"""Prometheus, Alertmanager and Grafana (kube-prometheus-stack), the project's alert rules and
dashboards as cluster objects, and PagerDuty services when a PagerDuty token is configured."""
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_pagerduty as pagerduty
import pulumi_random as random

from observability.alertmanager import (PAGERDUTY_SECRET, PLATFORM_ROUTING_KEY, SLACK_SECRET, SLACK_WEBHOOK_KEY,
                                        alertmanager_config, routing_key)
from observability.dashboards import SIDECAR_LABEL, render_dashboards
from observability.model_rules import model_rule_groups

from .helm_release import ChartPin, helm_release
from .k8s_defaults import RESTRICTED_CONTAINER, namespace_scope, pod_security_labels
from .node_placement import GPU_NODES, GPU_TOLERATION, SYSTEM_NODES

KUBE_PROMETHEUS_STACK = ChartPin("kube-prometheus-stack", "77.0.0", "https://prometheus-community.github.io/helm-charts")
PUSHGATEWAY = ChartPin("prometheus-pushgateway", "3.4.1", "https://prometheus-community.github.io/helm-charts")
DCGM_EXPORTER = ChartPin("dcgm-exporter", "4.1.1", "https://nvidia.github.io/dcgm-exporter/helm-charts")
NAMESPACE = "monitoring"
# Node agents need the host (node-exporter: host network, PID and /proc, /sys; dcgm-exporter:
# the GPU devices): they run in kube-system beside the other node agents, which leaves the
# monitoring namespace free of privileged pods.
NODE_AGENT_NAMESPACE = "kube-system"
PUSHGATEWAY_PORT = 9091
PROMETHEUS_PORT = 9090
# In-cluster addresses: kube-prometheus-stack names Prometheus's Service `<release>-prometheus`,
# the Pushgateway chart its Service after the release (each release name contains its chart's).
PROMETHEUS_RELEASE, PUSHGATEWAY_RELEASE = "kube-prometheus-stack", "prometheus-pushgateway"
PROMETHEUS_URL = f"http://{PROMETHEUS_RELEASE}-prometheus.{NAMESPACE}.svc.cluster.local:{PROMETHEUS_PORT}"
PUSHGATEWAY_URL = f"http://{PUSHGATEWAY_RELEASE}.{NAMESPACE}.svc.cluster.local:{PUSHGATEWAY_PORT}"
# One replica as a StatefulSet: its pod's name is fixed, so the release workflow's port-forward
# right can name it (components/github_oidc.py) instead of every pod of the namespace.
PUSHGATEWAY_POD = f"{PUSHGATEWAY_RELEASE}-0"


@dataclass(frozen=True)
class ModelAlerting:
    model: str
    namespace: str
    team: str
    availability: float
    p99_latency_seconds: float


@dataclass(frozen=True)
class ObservabilityArgs:
    name: str
    environment: str
    storage_class: str
    prometheus_replicas: int
    prometheus_retention_days: int
    prometheus_storage_gib: int
    alertmanager_replicas: int
    paging_enabled: bool
    pagerduty_escalation_policy: str
    ticket_webhook_url: pulumi.Input[str] | None
    dead_mans_switch_url: pulumi.Input[str] | None
    platform_rules: dict[str, dict[str, Any]]  # rule-file name -> its document
    models: list[ModelAlerting]
    k8s_opts: pulumi.ResourceOptions
    teams: list[str] = field(default_factory=list)


class Observability(pulumi.ComponentResource):
    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, child)
        teams = sorted({*args.teams, *(m.team for m in args.models)})

        # Baseline: the kube-prometheus-stack and Pushgateway pod specs were not rendered offline to
        # check every field restricted asks for; warn and audit report any gap before it is raised.
        ns_opts = namespace_scope(f"{name}-ns", NAMESPACE, k8s_child, labels={
            "app.kubernetes.io/part-of": "mlops-platform", **pod_security_labels("baseline")})

        secrets = [self._ticket_secret(name, args, ns_opts)]
        if args.paging_enabled:
            secrets.append(self._pagerduty_secret(name, args, teams, child, ns_opts))
        else:
            pulumi.log.warn(f"{args.environment}: paging is off (no pagerduty:token): pages go to the ticket channel")

        grafana_password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        grafana_admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": "grafana-admin", "namespace": NAMESPACE},
            string_data={"admin-user": "admin", "admin-password": grafana_password.result},
            opts=ns_opts,
        )

        ha = args.prometheus_replicas > 1
        stack = helm_release(PROMETHEUS_RELEASE, KUBE_PROMETHEUS_STACK, NAMESPACE, {
            "prometheus": {"prometheusSpec": {
                "replicas": args.prometheus_replicas,
                "retention": f"{args.prometheus_retention_days}d",
                # Pick up every PrometheusRule, ServiceMonitor and PodMonitor in the cluster,
                # not only the chart's own: the model namespaces ship theirs.
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "storageSpec": {"volumeClaimTemplate": {"spec": {
                    "storageClassName": args.storage_class,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{args.prometheus_storage_gib}Gi"}},
                }}},
                "resources": {"requests": {"cpu": "1" if ha else "500m", "memory": "8Gi" if ha else "2Gi"},
                              "limits": {"memory": "8Gi" if ha else "2Gi"}},
                "nodeSelector": SYSTEM_NODES,
            }},
            "alertmanager": {
                "config": alertmanager_config(args.environment, args.paging_enabled, teams,
                                              dead_mans_switch_url=args.dead_mans_switch_url),
                "alertmanagerSpec": {
                    "replicas": args.alertmanager_replicas,
                    "secrets": [s.metadata.name for s in secrets],
                    "storage": {"volumeClaimTemplate": {"spec": {
                        "storageClassName": args.storage_class,
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "5Gi"}},
                    }}},
                    "nodeSelector": SYSTEM_NODES,
                },
            },
            "grafana": {
                "admin": {"existingSecret": grafana_admin.metadata.name, "userKey": "admin-user",
                          "passwordKey": "admin-password"},
                # A Role in this namespace, not a ClusterRole: Grafana's sidecar reads this
                # namespace's ConfigMaps and Secrets only (every dashboard is declared here).
                "rbac": {"namespaced": True},
                "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1"}},
                "nodeSelector": SYSTEM_NODES,
            },
            "prometheus-node-exporter": {"namespaceOverride": NODE_AGENT_NAMESPACE},
        }, pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=[grafana_admin, *secrets])))
        crd_opts = pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=[stack]))

        # The training pipeline pushes its last-success time, drift and model version here.
        # Pushes are admitted from the pipeline namespace only (components/network_policies.py).
        helm_release(PUSHGATEWAY_RELEASE, PUSHGATEWAY, NAMESPACE, {
            "serviceMonitor": {"enabled": True, "honorLabels": True},  # keep the pushed `model` label
            "runAsStatefulSet": True,
            "replicaCount": 1,
            "nodeSelector": SYSTEM_NODES,
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": RESTRICTED_CONTAINER,
        }, crd_opts)
        helm_release("dcgm-exporter", DCGM_EXPORTER, NODE_AGENT_NAMESPACE, {
            "serviceMonitor": {"enabled": True},
            "nodeSelector": GPU_NODES,
            "tolerations": [GPU_TOLERATION],
        }, crd_opts)

        for rule_file, doc in sorted(args.platform_rules.items()):
            self._rule(f"{name}-rules-{rule_file}", f"platform-{rule_file}", doc, crd_opts)
        for m in args.models:
            doc = model_rule_groups(m.model, m.namespace, m.team, m.availability, m.p99_latency_seconds)
            self._rule(f"{name}-rules-model-{m.model}", f"model-{m.model}", doc, crd_opts)

        for file_name, dashboard in sorted(render_dashboards().items()):
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{file_name.removesuffix('.json')}",
                metadata={"name": f"dashboard-{file_name.removesuffix('.json')}", "namespace": NAMESPACE,
                          "labels": SIDECAR_LABEL},
                data={file_name: dashboard},
                opts=ns_opts,
            )
        # What the release controller queries (canary analysis) and the pipeline pushes to.
        self.prometheus_url = PROMETHEUS_URL
        self.pushgateway_url = PUSHGATEWAY_URL
        self.register_outputs({"namespace": NAMESPACE, "paging_enabled": args.paging_enabled,
                               "prometheus_url": PROMETHEUS_URL, "pushgateway_url": PUSHGATEWAY_URL})

    def _rule(self, resource_name: str, name: str, doc: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        k8s.apiextensions.CustomResource(
            resource_name,
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": name, "namespace": NAMESPACE},
            spec=doc,
            opts=opts,
        )

    def _ticket_secret(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        if args.ticket_webhook_url is None:
            pulumi.log.warn(f"{args.environment}: no mlops:ticketWebhookUrl: ticket alerts are not delivered")
        return k8s.core.v1.Secret(
            f"{name}-slack",
            metadata={"name": SLACK_SECRET, "namespace": NAMESPACE},
            string_data={SLACK_WEBHOOK_KEY: pulumi.Output.secret(args.ticket_webhook_url or "")},
            opts=opts,
        )

    def _pagerduty_secret(self, name: str, args: ObservabilityArgs, teams: list[str], child: pulumi.ResourceOptions,
                          opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        # One PagerDuty service per environment for the platform, one per model team, each with
        # an Events API v2 integration whose routing key Alertmanager reads from this Secret.
        keys: dict[str, pulumi.Output[str]] = {}
        for owner, key_name in [("platform", PLATFORM_ROUTING_KEY), *((t, routing_key(t)) for t in teams)]:
            service = pagerduty.Service(
                f"{name}-pd-{owner}",
                name=f"{args.name} {owner}",
                escalation_policy=args.pagerduty_escalation_policy,
                alert_creation="create_alerts_and_incidents",
                opts=child,
            )
            integration = pagerduty.ServiceIntegration(
                f"{name}-pd-{owner}",
                service=service.id,
                type="events_api_v2_inbound_integration",
                opts=child,
            )
            keys[key_name] = pulumi.Output.secret(integration.integration_key)
        return k8s.core.v1.Secret(
            f"{name}-pagerduty",
            metadata={"name": PAGERDUTY_SECRET, "namespace": NAMESPACE},
            string_data=keys,
            opts=opts,
        )
