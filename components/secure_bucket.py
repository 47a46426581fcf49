"""An S3 bucket with the platform's conventions: private, versioned, encrypted, TLS-only, logged."""
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .iam_policy import output_policy
from .kms import rotating_key


@dataclass(frozen=True)
class SecureBucketArgs:
    bucket_name: str
    force_destroy: bool
    noncurrent_version_expiration_days: int
    # None: SSE-S3. Server access-log targets must use it; everything else uses a KMS key.
    kms_key_arn: pulumi.Input[str] | None = None
    access_log_bucket: pulumi.Input[str] | None = None
    # Extra lifecycle rules in aws.s3.BucketLifecycleConfiguration form, e.g. tiering.
    lifecycle_rules: list[dict[str, Any]] = field(default_factory=list)
    # Extra policy statements, given the bucket ARN (e.g. the S3 logging service's write).
    policy_statements: Any = None


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    arn: pulumi.Output[str]
    id: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        bucket = aws.s3.Bucket(name, bucket=args.bucket_name, force_destroy=args.force_destroy, opts=child)
        # ACLs off: access is decided by policies alone.
        aws.s3.BucketOwnershipControls(name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        public_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
        if args.kms_key_arn is not None:
            sse = {"sse_algorithm": "aws:kms", "kms_master_key_id": args.kms_key_arn}
        else:
            sse = {"sse_algorithm": "AES256"}
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            # Bucket keys cut KMS request costs by ~99% on busy lake prefixes.
            rules=[{"apply_server_side_encryption_by_default": sse, "bucket_key_enabled": args.kms_key_arn is not None}],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                *args.lifecycle_rules,
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_expiration_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                },
            ],
            opts=child,
        )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                name, bucket=bucket.id, target_bucket=args.access_log_bucket, target_prefix=f"{args.bucket_name}/", opts=child
            )

        def statements(arn: str) -> list[dict]:
            deny_plain_http = {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
            extra = args.policy_statements(arn) if args.policy_statements else []
            return [deny_plain_http, *extra]

        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=output_policy(statements, bucket.arn),
            # A policy put before the public-access block could be judged public and refused.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_block]),
        )

        self.bucket = bucket
        self.arn = bucket.arn
        self.id = bucket.id
        self.register_outputs({"arn": bucket.arn, "id": bucket.id})



# S3 bucket names: 3-63 characters, global across every AWS account.
S3_BUCKET_NAME_MAX = 63
_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c", "northeast": "ne",
               "southeast": "se", "northwest": "nw", "southwest": "sw", "gov": "g", "iso": "i"}


def global_bucket_name(prefix: str, purpose: str, account_id: str, region: str) -> str:
    """`<prefix>-<purpose>-<account>-<region>`: account and region make it unique and predictable.
    When that passes S3's 63 characters the region is written as AWS's own short code (the prefix
    of its zone IDs: us-east-1 -> use1, ap-southeast-2 -> apse2), so the name stays readable and
    deterministic; a name still too long is left for the preview's name check to refuse."""
    full = f"{prefix}-{purpose}-{account_id}-{region}"
    if len(full) <= S3_BUCKET_NAME_MAX:
        return full
    area, *middle, number = region.split("-")
    short = area + "".join(_DIRECTIONS.get(part, part[:1]) for part in middle) + number
    return f"{prefix}-{purpose}-{account_id}-{short}"


def service_bucket(name: str, *, bucket_name: str, key_alias: str, purpose: str, force_destroy: bool,
                   noncurrent_version_expiration_days: int, access_log_bucket: pulumi.Input[str],
                   parent: pulumi.Resource) -> tuple[SecureBucket, aws.kms.Key]:
    """A platform service's own bucket under its own rotating key: the key's grants, like the
    bucket's policy, stay within that service."""
    key = rotating_key(f"{name}-key", purpose, key_alias, parent)
    bucket = SecureBucket(name, SecureBucketArgs(
        bucket_name=bucket_name,
        force_destroy=force_destroy,
        noncurrent_version_expiration_days=noncurrent_version_expiration_days,
        kms_key_arn=key.arn,
        access_log_bucket=access_log_bucket,
    ), opts=pulumi.ResourceOptions(parent=parent))
    return bucket, key
