"""Ingestion health in Prometheus: the prometheus-community CloudWatch exporter reads MSK
consumer lag and Firehose delivery metrics from CloudWatch, with a read-only Pod Identity role.

Metric names follow the exporter's rule (cloudwatch_exporter CloudWatchCollector: namespace and
metric snake-cased, non-alphanumerics to `_`, statistic as suffix), e.g. AWS/Kafka SumOffsetLag
Maximum -> aws_kafka_sum_offset_lag_maximum{cluster_name, consumer_group, topic}; the rules in
observability/rules/kafka.rules.yaml read exactly these."""
from dataclasses import dataclass

import pulumi
import yaml

from .helm_release import ChartPin, helm_release
from .iam_policy import allow, policy_document
from .node_placement import SYSTEM_NODES
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs

CLOUDWATCH_EXPORTER = ChartPin("prometheus-cloudwatch-exporter", "0.28.1", "https://prometheus-community.github.io/helm-charts")
SERVICE_ACCOUNT = "cloudwatch-exporter"
# CloudWatch reads cost per metric requested: one scrape every 2 minutes of a handful of
# metrics stays at a few dollars a month, and lag alerts wait 15 minutes anyway.
SCRAPE_INTERVAL = "2m"


@dataclass(frozen=True)
class LakeMonitoringArgs:
    region: str
    namespace: str
    cluster_name: pulumi.Input[str]       # EKS, for the Pod Identity association
    msk_cluster_name: pulumi.Input[str]
    delivery_stream_names: list[pulumi.Input[str]]
    k8s_opts: pulumi.ResourceOptions


def exporter_config(region: str, msk_cluster_name: str, stream_names: list[str]) -> str:
    """cloudwatch_exporter config.yml: consumer lag of every group on the cluster, and the
    delivery freshness, success and conversion failures of the platform's streams."""
    kafka_dims = ["Cluster Name", "Consumer Group", "Topic"]
    kafka = {"aws_namespace": "AWS/Kafka", "aws_dimensions": kafka_dims,
             "aws_dimension_select": {"Cluster Name": [msk_cluster_name]}}
    firehose = {"aws_namespace": "AWS/Firehose", "aws_dimensions": ["DeliveryStreamName"],
                "aws_dimension_select": {"DeliveryStreamName": sorted(stream_names)}}
    metrics = [
        {**kafka, "aws_metric_name": "SumOffsetLag", "aws_statistics": ["Maximum"]},
        {**kafka, "aws_metric_name": "EstimatedMaxTimeLag", "aws_statistics": ["Maximum"]},
        {**firehose, "aws_metric_name": "DeliveryToS3.DataFreshness", "aws_statistics": ["Maximum"]},
        {**firehose, "aws_metric_name": "DeliveryToS3.Success", "aws_statistics": ["Average"]},
        {**firehose, "aws_metric_name": "FailedConversion.Records", "aws_statistics": ["Sum"]},
    ]
    # 5-minute periods read 10 minutes back: CloudWatch revises the newest minutes after the fact.
    return yaml.safe_dump({"region": region, "period_seconds": 300, "range_seconds": 600, "delay_seconds": 300,
                           "metrics": metrics}, sort_keys=True)


class LakeMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: LakeMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:LakeMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, child)

        # Read-only: CloudWatch's read APIs take no resource-level scoping, hence "*".
        PodIdentityRole(f"{name}-exporter", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=args.namespace, service_account=SERVICE_ACCOUNT,
            policy_json=policy_document(allow(["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics",
                                               "cloudwatch:ListMetrics"], "*")),
        ), opts=child)

        config = pulumi.Output.all(args.msk_cluster_name, *args.delivery_stream_names).apply(
            lambda v: exporter_config(args.region, v[0], list(v[1:])))
        helm_release("cloudwatch-exporter", CLOUDWATCH_EXPORTER, args.namespace, {
            "config": config,
            "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
            "serviceMonitor": {"enabled": True, "interval": SCRAPE_INTERVAL, "timeout": "60s"},
            "nodeSelector": SYSTEM_NODES,
            "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": {"runAsUser": 65534, "runAsNonRoot": True, "fsGroup": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                         "readOnlyRootFilesystem": True},
        }, k8s_child)
        self.register_outputs({})
