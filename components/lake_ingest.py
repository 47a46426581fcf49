"""Kafka -> S3 raw zone, managed: one Amazon Data Firehose stream per lake topic.

Each stream reads its MSK topic over MSK multi-VPC private connectivity with IAM auth, converts
the JSON events to Parquet against the topic's Glue table, and writes them partitioned by the
event's own UTC date and hour (dynamic partitioning, jq 1.6), so a late event lands in the hour
it happened, where the pipeline looks for it. Records that fail partitioning or conversion go to
the contract's error prefix, never dropped. Objects are encrypted with the lake key."""
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .iam_policy import allow, output_policy, policy_document
from .kafka_access import kafka_arn

# jq 1.6 (the only version Firehose offers). Events carry event_time in epoch milliseconds
# (contracts/clickstream.yaml); strftime needs whole seconds.
PARTITION_QUERY = ('{dt: (.event_time / 1000 | floor | strftime("%Y-%m-%d")), '
                   'hour: (.event_time / 1000 | floor | strftime("%H"))}')
LOG_STREAM = "DestinationDelivery"


@dataclass(frozen=True)
class IngestStream:
    name: str          # the contract's name, e.g. clickstream
    topic: str
    prefix: str        # raw-zone prefix, e.g. clickstream
    error_prefix: str  # e.g. clickstream-errors
    table_name: pulumi.Input[str]


@dataclass(frozen=True)
class LakeIngestArgs:
    name: str
    account_id: str
    region: str
    cluster_arn: pulumi.Input[str]
    raw_bucket_arn: pulumi.Input[str]
    lake_key_arn: pulumi.Input[str]
    database_name: pulumi.Input[str]
    streams: list[IngestStream]
    buffering_size_mib: int
    buffering_interval_seconds: int
    log_retention_days: int
    # Expected volume, recorded on the component for the cost estimate (tools/cost.py).
    events_per_day: int
    bytes_per_event: int


def delivery_prefix(prefix: str) -> str:
    """The raw layout of the lake contract: <prefix>/dt=YYYY-MM-DD/hour=HH/."""
    return f"{prefix}/dt=!{{partitionKeyFromQuery:dt}}/hour=!{{partitionKeyFromQuery:hour}}/"


def error_prefix(prefix: str) -> str:
    """Failed records by failure kind and arrival date (dynamic partitioning needs the kind)."""
    return f"{prefix}/!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/hour=!{{timestamp:HH}}/"


def firehose_trust(account_id: str) -> str:
    # aws:SourceAccount: only streams of this account may act as this role (confused deputy).
    return policy_document({"Effect": "Allow", "Principal": {"Service": ["firehose.amazonaws.com"]},
                            "Action": ["sts:AssumeRole"],
                            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}})


def logs_key_policy(account_id: str, region: str, log_group_prefix: str) -> str:
    """CloudWatch Logs may use the key only for this stack's Firehose log groups."""
    return policy_document(
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchLogsEncrypt", "Effect": "Allow", "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*",
         "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                   f"arn:aws:logs:{region}:{account_id}:log-group:{log_group_prefix}*"}}},
    )


class LakeIngest(pulumi.ComponentResource):
    stream_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: LakeIngestArgs, opts: pulumi.ResourceOptions | None = None):
        # The expected volume is the component's own input so that the offline preview (and the
        # cost estimate that reads it) shows the assumption next to the streams it prices.
        super().__init__("mlops:data:LakeIngest", name, {
            "eventsPerDay": args.events_per_day, "bytesPerEvent": args.bytes_per_event,
            "streams": [s.name for s in args.streams],
        }, opts)
        child = pulumi.ResourceOptions(parent=self)
        log_prefix = f"/mlops/{args.name}/firehose/"
        logs_key = aws.kms.Key(
            f"{name}-logs-key",
            description=f"Firehose delivery logs of {args.name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=logs_key_policy(args.account_id, args.region, log_prefix),
            opts=child,
        )
        aws.kms.Alias(f"{name}-logs-key", name=f"alias/{args.name}-firehose-logs", target_key_id=logs_key.key_id, opts=child)

        self.stream_names = {}
        for stream in args.streams:
            self.stream_names[stream.name] = self._stream(name, stream, args, logs_key, log_prefix, child)
        self.register_outputs({"streams": self.stream_names})

    def _stream(self, name: str, stream: IngestStream, args: LakeIngestArgs, logs_key: aws.kms.Key,
                log_prefix: str, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        res = f"{name}-{stream.name}"
        stream_name = f"{args.name}-{stream.name}"
        log_group = aws.cloudwatch.LogGroup(res, name=f"{log_prefix}{stream.name}", retention_in_days=args.log_retention_days,
                                            kms_key_id=logs_key.arn, opts=child)
        aws.cloudwatch.LogStream(res, name=LOG_STREAM, log_group_name=log_group.name, opts=child)

        role = aws.iam.Role(res, description=f"Firehose {stream_name}: MSK topic {stream.topic} to the raw zone",
                            assume_role_policy=firehose_trust(args.account_id), opts=child)
        table_arn = pulumi.Output.concat("arn:aws:glue:", args.region, ":", args.account_id, ":table/",
                                         args.database_name, "/", stream.table_name)
        database_arn = pulumi.Output.concat("arn:aws:glue:", args.region, ":", args.account_id, ":database/", args.database_name)
        catalog_arn = f"arn:aws:glue:{args.region}:{args.account_id}:catalog"

        def statements(cluster_arn, bucket_arn, key_arn, log_name, table, database):
            return [
                # Source: the Firehose developer guide's MSK-source permissions, scoped to one topic.
                allow(["kafka:GetBootstrapBrokers", "kafka:DescribeCluster", "kafka:DescribeClusterV2",
                       "kafka-cluster:Connect"], cluster_arn),
                allow(["kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration",
                       "kafka-cluster:ReadData"], kafka_arn(cluster_arn, "topic", stream.topic)),
                allow(["kafka-cluster:DescribeGroup"], kafka_arn(cluster_arn, "group", "*")),
                # Destination: write under the contract's two prefixes only.
                allow(["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], bucket_arn),
                allow(["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                      [f"{bucket_arn}/{stream.prefix}/*", f"{bucket_arn}/{stream.error_prefix}/*"]),
                allow(["kms:Decrypt", "kms:GenerateDataKey"], key_arn,
                      Condition={"StringEquals": {"kms:ViaService": f"s3.{args.region}.amazonaws.com"},
                                 # The bucket's ARN with S3 Bucket Keys, the object's without.
                                 "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}}),
                # Parquet conversion reads the table's schema.
                allow(["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"], [catalog_arn, database, table]),
                allow(["logs:PutLogEvents"], f"arn:aws:logs:{args.region}:{args.account_id}:log-group:{log_name}:log-stream:{LOG_STREAM}"),
            ]

        policy = aws.iam.RolePolicy(res, role=role.id, policy=output_policy(
            statements, args.cluster_arn, args.raw_bucket_arn, args.lake_key_arn, log_group.name, table_arn, database_arn,
        ), opts=child)

        delivery = aws.kinesis.FirehoseDeliveryStream(
            res,
            name=stream_name,
            destination="extended_s3",
            msk_source_configuration={
                "msk_cluster_arn": args.cluster_arn,
                "topic_name": stream.topic,
                # PRIVATE: Firehose reaches the brokers through the cluster's multi-VPC connectivity.
                "authentication_configuration": {"connectivity": "PRIVATE", "role_arn": role.arn},
            },
            extended_s3_configuration={
                "role_arn": role.arn,
                "bucket_arn": args.raw_bucket_arn,
                "prefix": delivery_prefix(stream.prefix),
                "error_output_prefix": error_prefix(stream.error_prefix),
                "buffering_size": args.buffering_size_mib,
                "buffering_interval": args.buffering_interval_seconds,
                "kms_key_arn": args.lake_key_arn,
                # Parquet compresses its pages itself (Snappy); Firehose compression must be off.
                "compression_format": "UNCOMPRESSED",
                "cloudwatch_logging_options": {"enabled": True, "log_group_name": log_group.name,
                                               "log_stream_name": LOG_STREAM},
                "dynamic_partitioning_configuration": {"enabled": True, "retry_duration": 300},
                "processing_configuration": {"enabled": True, "processors": [{
                    "type": "MetadataExtraction",
                    "parameters": [
                        {"parameter_name": "MetadataExtractionQuery", "parameter_value": PARTITION_QUERY},
                        {"parameter_name": "JsonParsingEngine", "parameter_value": "JQ-1.6"},
                    ],
                }]},
                "data_format_conversion_configuration": {
                    "enabled": True,
                    "input_format_configuration": {"deserializer": {
                        # event_time arrives as epoch milliseconds.
                        "hive_json_ser_de": {"timestamp_formats": ["millis"]}}},
                    "output_format_configuration": {"serializer": {"parquet_ser_de": {"compression": "SNAPPY"}}},
                    "schema_configuration": {
                        "database_name": args.database_name,
                        "table_name": stream.table_name,
                        "role_arn": role.arn,
                        "region": args.region,
                        "catalog_id": args.account_id,
                        "version_id": "LATEST",
                    },
                },
            },
            # The role's policy must exist before Firehose validates its access at creation.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy])),
        )
        return delivery.name
