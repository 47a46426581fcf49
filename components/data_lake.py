"""The S3 data lake: Kafka lands raw events, pipelines write curated data and features."""
from dataclasses import dataclass

import pulumi

from .kms import rotating_key
from .secure_bucket import SecureBucket, SecureBucketArgs, global_bucket_name

ZONES = ("raw", "curated", "features")


@dataclass(frozen=True)
class DataLakeArgs:
    name: str
    account_id: str
    region: str
    force_destroy: bool
    raw_infrequent_access_days: int
    raw_glacier_days: int
    noncurrent_version_expiration_days: int
    access_log_retention_days: int


class DataLake(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]
    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:DataLake", name, None, opts)
        key = rotating_key(f"{name}-key", f"Data lake of {args.name}", f"{args.name}-lake", self)

        def bucket_name(zone: str) -> str:
            return global_bucket_name(args.name, zone, args.account_id, args.region)

        access_logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                bucket_name=bucket_name("access-logs"),
                force_destroy=args.force_destroy,
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                kms_key_arn=None,  # S3 server access logging cannot deliver to SSE-KMS buckets
                lifecycle_rules=[{
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.access_log_retention_days},
                }],
                policy_statements=lambda arn: [{
                    "Sid": "AllowS3ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                }],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        tiering = [{
            "id": "raw-tiering",
            "status": "Enabled",
            "filter": {},
            "transitions": [
                {"days": args.raw_infrequent_access_days, "storage_class": "STANDARD_IA"},
                {"days": args.raw_glacier_days, "storage_class": "GLACIER"},
            ],
        }]
        zones = {
            zone: SecureBucket(
                f"{name}-{zone}",
                SecureBucketArgs(
                    bucket_name=bucket_name(zone),
                    force_destroy=args.force_destroy,
                    noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                    kms_key_arn=key.arn,
                    access_log_bucket=access_logs.id,
                    # Curated data and features are re-read by every training run: they stay hot.
                    lifecycle_rules=tiering if zone == "raw" else [],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for zone in ZONES
        }

        self.key_arn = key.arn
        self.access_log_bucket = access_logs.id
        self.bucket_names = {zone: b.id for zone, b in zones.items()}
        self.bucket_arns = {zone: b.arn for zone, b in zones.items()}
        self.register_outputs({"key_arn": key.arn, "buckets": self.bucket_names, "access_log_bucket": access_logs.id})
