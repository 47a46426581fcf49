"""The serving cache: Valkey on ElastiCache, TLS and auth token, failover outside dev."""
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .kms import rotating_key
from .private_access import cluster_only_security_group

PORT = 6379


@dataclass(frozen=True)
class CacheArgs:
    name: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    cluster_security_group_id: pulumi.Input[str]
    engine_version: str
    node_type: str
    replicas: int
    snapshot_retention_days: int
    # Days Secrets Manager keeps a deleted secret (and its name) recoverable: 7-30, or 0 to delete
    # at once so a disposable stack's `destroy` then `up` can create the same name again.
    secret_recovery_window_days: int = 30


class Cache(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: int
    auth_token: pulumi.Output[str]
    auth_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = rotating_key(f"{name}-key", f"Serving cache of {args.name}", f"{args.name}-cache", self)
        group = cluster_only_security_group(f"{name}-sg", "Serving cache", args.vpc_id, args.cluster_security_group_id, [PORT], self)
        subnets = aws.elasticache.SubnetGroup(f"{name}-subnets", name=f"{args.name}-cache", subnet_ids=args.subnet_ids, opts=child)

        # ElastiCache tokens: 16-128 printable characters; letters and digits avoid the
        # forbidden @, " and / and any quoting trouble in clients.
        token = random.RandomPassword(f"{name}-auth-token", length=64, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-auth-token",
            name=f"{args.name}/cache/auth-token",
            description="AUTH token of the serving cache",
            kms_key_id=key.arn,
            recovery_window_in_days=args.secret_recovery_window_days,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(f"{name}-auth-token", secret_id=secret.id, secret_string=token.result, opts=child)

        failover = args.replicas >= 1
        group_resource = aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=f"{args.name}-cache",
            description=f"Recommendation cache of {args.name}",
            engine="valkey",
            engine_version=args.engine_version,
            node_type=args.node_type,
            port=PORT,
            num_cache_clusters=1 + args.replicas,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=token.result,
            snapshot_retention_limit=args.snapshot_retention_days,
            auto_minor_version_upgrade=True,
            apply_immediately=False,  # changes wait for the maintenance window, not peak traffic
            opts=child,
        )

        self.host = group_resource.primary_endpoint_address
        self.port = PORT
        self.auth_token = pulumi.Output.secret(token.result)
        self.auth_secret_arn = secret.arn
        self.register_outputs({"host": self.host, "port": PORT, "auth_secret_arn": secret.arn})
