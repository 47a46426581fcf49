"""Airflow orchestrates ingestion, training on the GPU nodes and model registration.

The official chart (apache-airflow), KubernetesExecutor: each task is its own pod, so a
training task can ask for a GPU and the rest of the pipeline does not hold one."""
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .helm_release import ChartPin, helm_release
from .k8s_defaults import namespace_scope
from .iam_policy import allow, output_policy
from .node_placement import SYSTEM_NODES
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs
from .postgres import PostgresDatabase, PostgresDatabaseArgs
from .secure_bucket import service_bucket

AIRFLOW_CHART = ChartPin("airflow", "1.18.0", "https://airflow.apache.org")
# The chart's own default (appVersion 3.0.2), pinned so a chart bump cannot move the Airflow that
# runs the DAGs away from the one dags/requirements.txt tests them with (dags/tests checks both).
AIRFLOW_VERSION = "3.0.2"
NAMESPACE = "airflow"
# Service accounts the chart creates under these names, each bound to its own role below.
WORKER_SA, API_SA, TRIGGERER_SA, SCHEDULER_SA, DAG_PROCESSOR_SA = (
    "airflow-worker", "airflow-api-server", "airflow-triggerer", "airflow-scheduler", "airflow-dag-processor")


@dataclass(frozen=True)
class AirflowArgs:
    name: str
    account_id: str
    region: str
    cluster_name: pulumi.Input[str]
    high_availability: bool
    scheduler_replicas: int
    dags_repository: str
    dags_branch: str
    dags_path: str
    force_destroy: bool
    noncurrent_version_expiration_days: int
    access_log_bucket: pulumi.Input[str]
    lake_bucket_arns: list[pulumi.Input[str]]
    lake_key_arn: pulumi.Input[str]
    mlflow_bucket_arn: pulumi.Input[str]
    mlflow_key_arn: pulumi.Input[str]
    mlflow_tracking_uri: str
    database: PostgresDatabaseArgs
    k8s_opts: pulumi.ResourceOptions


class Airflow(pulumi.ComponentResource):
    def __init__(self, name: str, args: AirflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ml:Airflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, child)

        logs, key = service_bucket(
            f"{name}-logs",
            bucket_name=f"{args.name}-airflow-logs-{args.account_id}-{args.region}",
            key_alias=f"{args.name}-airflow-logs",
            purpose=f"Airflow task logs of {args.name}",
            force_destroy=args.force_destroy,
            noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
            access_log_bucket=args.access_log_bucket,
            parent=self,
        )
        database = PostgresDatabase(f"{name}-db", args.database, opts=child)

        def logs_access(write: bool):
            actions = ["s3:GetObject", *(["s3:PutObject"] if write else [])]
            kms = ["kms:Decrypt", *(["kms:GenerateDataKey"] if write else [])]
            return lambda arn, key_arn: [allow(["s3:ListBucket"], arn), allow(actions, f"{arn}/*"), allow(kms, key_arn)]

        def role(sa: str, policy) -> None:
            PodIdentityRole(f"{name}-{sa}", PodIdentityRoleArgs(
                cluster_name=args.cluster_name, namespace=NAMESPACE, service_account=sa, policy_json=policy,
            ), opts=child)

        # Workers run the pipeline: read and write the lake, log runs and models to MLflow.
        role(WORKER_SA, output_policy(
            lambda logs_arn, logs_key, lake_key, mlflow_arn, mlflow_key, *lake: [
                *logs_access(True)(logs_arn, logs_key),
                allow(["s3:ListBucket"], [*lake, mlflow_arn]),
                allow(["s3:GetObject", "s3:PutObject"], [f"{a}/*" for a in (*lake, mlflow_arn)]),
                allow(["kms:Decrypt", "kms:GenerateDataKey"], [lake_key, mlflow_key]),
            ],
            logs.arn, key.arn, args.lake_key_arn, args.mlflow_bucket_arn, args.mlflow_key_arn, *args.lake_bucket_arns,
        ))
        role(API_SA, output_policy(logs_access(False), logs.arn, key.arn))  # shows task logs
        role(TRIGGERER_SA, output_policy(logs_access(True), logs.arn, key.arn))  # deferred tasks log too
        # The scheduler and DAG processor need no AWS access: no role for them.

        ns_opts = namespace_scope(f"{name}-ns", NAMESPACE, k8s_child)
        metadata = k8s.core.v1.Secret(
            f"{name}-metadata",
            metadata={"name": "airflow-metadata", "namespace": NAMESPACE},
            string_data={"connection": database.url()},
            opts=ns_opts,
        )

        log_folder = logs.id.apply(lambda b: f"s3://{b}/task-logs")
        helm_release("airflow", AIRFLOW_CHART, NAMESPACE, {
            "executor": "KubernetesExecutor",
            "airflowVersion": AIRFLOW_VERSION,
            "defaultAirflowTag": AIRFLOW_VERSION,
            "postgresql": {"enabled": False},
            "data": {"metadataSecretName": "airflow-metadata"},
            # Each KubernetesExecutor task opens connections: pool them in front of RDS.
            "pgbouncer": {"enabled": args.high_availability},
            "redis": {"enabled": False},
            "dags": {
                "persistence": {"enabled": False},
                "gitSync": {"enabled": True, "repo": args.dags_repository, "branch": args.dags_branch,
                            "subPath": args.dags_path, "period": "60s"},
            },
            "logs": {"persistence": {"enabled": False}},
            "config": {
                "logging": {"remote_logging": "True", "remote_base_log_folder": log_folder,
                            "remote_log_conn_id": "aws_default"},
                "core": {"load_examples": "False"},
            },
            "env": [
                # The AWS connection resolves credentials from Pod Identity: no keys stored.
                {"name": "AIRFLOW_CONN_AWS_DEFAULT", "value": f"aws://?region_name={args.region}"},
                {"name": "MLFLOW_TRACKING_URI", "value": args.mlflow_tracking_uri},
            ],
            "scheduler": {"replicas": args.scheduler_replicas, "serviceAccount": {"name": SCHEDULER_SA}},
            "workers": {"serviceAccount": {"name": WORKER_SA}},
            "apiServer": {"serviceAccount": {"name": API_SA}, "service": {"type": "ClusterIP"}},
            "triggerer": {"serviceAccount": {"name": TRIGGERER_SA}},
            "dagProcessor": {"enabled": True, "serviceAccount": {"name": DAG_PROCESSOR_SA}},
            # No admin/admin account: users come from the platform's identity provider.
            "webserver": {"defaultUser": {"enabled": False}},
            "nodeSelector": SYSTEM_NODES,
        }, pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=[metadata])))

        self.logs_bucket = logs.id
        self.register_outputs({"logs_bucket": logs.id, "database": database.address})
