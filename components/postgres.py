"""A private, encrypted PostgreSQL on RDS for one platform service (MLflow, Airflow)."""
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .kms import rotating_key
from .private_access import cluster_only_security_group

PORT = 5432
ENGINE_VERSION = "16"  # major pinned; minors follow RDS's automatic minor upgrades


@dataclass(frozen=True)
class PostgresDatabaseArgs:
    name: str  # physical identifier, e.g. xyz-mlops-prod-mlflow
    database: str
    username: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    cluster_security_group_id: pulumi.Input[str]
    instance_class: str
    storage_gib: int
    max_storage_gib: int
    backup_retention_days: int
    multi_az: bool
    deletion_protection: bool
    # Days Secrets Manager keeps a deleted secret (and its name) recoverable: 7-30, or 0 to delete
    # at once so a disposable stack's `destroy` then `up` can create the same name again.
    secret_recovery_window_days: int = 30


class PostgresDatabase(pulumi.ComponentResource):
    address: pulumi.Output[str]
    password: pulumi.Output[str]
    secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:PostgresDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # `-db`: the service beside the database (MLflow, Airflow) has a key aliased by its own name.
        key = rotating_key(f"{name}-key", f"Database {args.name}", f"{args.name}-db", self)
        group = cluster_only_security_group(f"{name}-sg", f"PostgreSQL {args.name}", args.vpc_id,
                                            args.cluster_security_group_id, [PORT], self)
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", name=args.name, subnet_ids=args.subnet_ids, opts=child)
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            name=f"{args.name}-pg{ENGINE_VERSION}",
            family=f"postgres{ENGINE_VERSION}",
            parameters=[
                {"name": "rds.force_ssl", "value": "1"},  # no plaintext client connections
                {"name": "log_min_duration_statement", "value": "1000"},
            ],
            opts=child,
        )

        password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-credentials",
            name=f"{args.name}/credentials",
            description=f"Master credentials of {args.name}",
            kms_key_id=key.arn,
            recovery_window_in_days=args.secret_recovery_window_days,
            opts=child,
        )

        instance = aws.rds.Instance(
            name,
            identifier=args.name,
            engine="postgres",
            engine_version=ENGINE_VERSION,
            instance_class=args.instance_class,
            db_name=args.database,
            username=args.username,
            password=password.result,
            port=PORT,
            allocated_storage=args.storage_gib,
            max_allocated_storage=args.max_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window="03:00-04:00",
            maintenance_window="sun:04:30-sun:05:30",
            deletion_protection=args.deletion_protection,
            # A protected database leaves a final snapshot; a disposable one does not.
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=f"{args.name}-final" if args.deletion_protection else None,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.arn,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps({
                "engine": "postgres",
                "host": instance.address,
                "port": PORT,
                "dbname": args.database,
                "username": args.username,
                "password": password.result,
            }),
            opts=child,
        )

        self.address = instance.address
        self.port = PORT
        self.database = args.database
        self.username = args.username
        self.password = pulumi.Output.secret(password.result)
        self.secret_arn = secret.arn
        self.register_outputs({"address": instance.address, "secret_arn": secret.arn})

    def url(self, driver: str = "postgresql") -> pulumi.Output[str]:
        """Connection URL with TLS required, as a secret."""
        return pulumi.Output.secret(pulumi.Output.format(
            "{0}://{1}:{2}@{3}:{4}/{5}?sslmode=require",
            driver, self.username, self.password, self.address, self.port, self.database,
        ))
