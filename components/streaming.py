"""Kafka on Amazon MSK: the clickstream's way into the lake. TLS only, IAM-authenticated."""
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .iam_policy import policy_document
from .kms import log_group_key, rotating_key
from .private_access import cluster_only_security_group

IAM_TLS_PORT = 9098  # MSK's port for IAM-authenticated TLS clients


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    retention_hours: int


@dataclass(frozen=True)
class StreamingArgs:
    name: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    zone_count: int
    cluster_security_group_id: pulumi.Input[str]
    kafka_version: str
    broker_instance_type: str
    brokers_per_az: int
    broker_volume_gib: int
    replication_factor: int
    min_insync_replicas: int
    log_retention_days: int
    topics: list[Topic]
    region: str
    # Amazon Data Firehose reads lake topics over MSK multi-VPC private connectivity (IAM only).
    firehose_private_access: bool = True


def firehose_cluster_policy(cluster_arn: str) -> str:
    """The cluster policy Firehose needs to create its managed VPC connection to a private
    cluster (Firehose developer guide, "Grant Firehose access to your private Amazon MSK
    cluster"); reading topics still takes the stream role's own kafka-cluster rights."""
    return policy_document({"Effect": "Allow", "Principal": {"Service": ["firehose.amazonaws.com"]},
                            "Action": ["kafka:CreateVpcConnection"], "Resource": cluster_arn})


def server_properties(replication_factor: int, min_insync_replicas: int) -> str:
    settings = {
        # Topics exist because they are declared (below), never because a client typo'd one.
        "auto.create.topics.enable": "false",
        "default.replication.factor": replication_factor,
        "min.insync.replicas": min_insync_replicas,
        "num.partitions": 6,
        "unclean.leader.election.enable": "false",  # never trade acknowledged events for uptime
        "delete.topic.enable": "true",
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


class Streaming(pulumi.ComponentResource):
    bootstrap_brokers: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]

    def __init__(self, name: str, args: StreamingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:Streaming", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = rotating_key(f"{name}-key", f"Kafka of {args.name}", f"{args.name}-kafka", self)
        group = cluster_only_security_group(f"{name}-sg", "Kafka brokers", args.vpc_id,
                                            args.cluster_security_group_id, [IAM_TLS_PORT], self)
        config = aws.msk.Configuration(
            f"{name}-config",
            name=f"{args.name}-kafka",
            kafka_versions=[args.kafka_version],
            server_properties=server_properties(args.replication_factor, args.min_insync_replicas),
            opts=child,
        )
        logs_name = f"/mlops/{args.name}/kafka-brokers"
        logs = aws.cloudwatch.LogGroup(f"{name}-broker-logs", name=logs_name, retention_in_days=args.log_retention_days,
                                       kms_key_id=log_group_key(f"{name}-broker-logs", logs_name, args.region, self).arn,
                                       opts=child)

        cluster = aws.msk.Cluster(
            name,
            cluster_name=f"{args.name}-kafka",
            kafka_version=args.kafka_version,
            # MSK spreads brokers evenly: the count is a multiple of the zones.
            number_of_broker_nodes=args.brokers_per_az * args.zone_count,
            broker_node_group_info={
                "instance_type": args.broker_instance_type,
                "client_subnets": args.subnet_ids,
                "security_groups": [group.id],
                "storage_info": {"ebs_storage_info": {"volume_size": args.broker_volume_gib}},
                # Multi-VPC private connectivity (PrivateLink), IAM clients only: no public access
                # is ever turned on; Firehose connects through it.
                **({"connectivity_info": {"vpc_connectivity": {"client_authentication": {"sasl": {"iam": True}}}}}
                   if args.firehose_private_access else {}),
            },
            encryption_info={
                "encryption_at_rest_kms_key_arn": key.arn,
                "encryption_in_transit": {"client_broker": "TLS", "in_cluster": True},
            },
            client_authentication={"sasl": {"iam": True}, "unauthenticated": False},
            configuration_info={"arn": config.arn, "revision": config.latest_revision},
            logging_info={"broker_logs": {"cloudwatch_logs": {"enabled": True, "log_group": logs.name}}},
            # JMX and node exporters for Prometheus (broker health, under-replicated partitions).
            open_monitoring={"prometheus": {"jmx_exporter": {"enabled_in_broker": True},
                                            "node_exporter": {"enabled_in_broker": True}}},
            opts=child,
        )

        # MSK's topic API is control-plane: declared, diffed and previewed like any resource,
        # idempotent by construction, and needs no network path from the deployer to brokers.
        for topic in args.topics:
            aws.msk.Topic(
                f"{name}-topic-{topic.name}",
                cluster_arn=cluster.arn,
                name=topic.name,
                partition_count=topic.partitions,
                replication_factor=args.replication_factor,
                configs=json.dumps({
                    "retention.ms": str(topic.retention_hours * 3600 * 1000),
                    "cleanup.policy": "delete",
                    "min.insync.replicas": str(args.min_insync_replicas),
                }, sort_keys=True),
                opts=child,
            )

        if args.firehose_private_access:
            aws.msk.ClusterPolicy(f"{name}-policy", cluster_arn=cluster.arn,
                                  policy=cluster.arn.apply(firehose_cluster_policy), opts=child)

        self.cluster_arn = cluster.arn
        self.cluster_name = cluster.cluster_name
        self.bootstrap_brokers = cluster.bootstrap_brokers_sasl_iam
        self.register_outputs({"cluster_arn": cluster.arn, "bootstrap_brokers": self.bootstrap_brokers})
