"""Airflow orchestrates ingestion, training on the GPU nodes and model registration.

The official chart (apache-airflow), KubernetesExecutor: each task is its own pod, so a
training task can ask for a GPU and the rest of the pipeline does not hold one."""
from dataclasses import dataclass, fields

import pulumi
import pulumi_kubernetes as k8s

from .helm_release import ChartPin, helm_release
from .k8s_defaults import RESTRICTED_CONTAINER, namespace_scope, pod_security_labels
from .iam_policy import allow, output_policy
from .node_placement import SYSTEM_NODES
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs
from .postgres import PostgresDatabase, PostgresDatabaseArgs
from .secure_bucket import global_bucket_name, service_bucket

AIRFLOW_CHART = ChartPin("airflow", "1.18.0", "https://airflow.apache.org")
# The chart's own default (appVersion 3.0.2), pinned so a chart bump cannot move the Airflow that
# runs the DAGs away from the one dags/requirements.txt tests them with (dags/tests checks both).
AIRFLOW_VERSION = "3.0.2"
NAMESPACE = "airflow"
# Where workers find the pipeline's task pod template (KubernetesPodOperator pod_template_file);
# the ConfigMap comes from components/pipeline_namespace.py.
TASK_POD_TEMPLATE_DIR = "/opt/airflow/pod_templates"
TASK_POD_TEMPLATE_CONFIGMAP = "pipeline-task-pod-template"
AIRFLOW_UID = 50000  # the official image's `airflow` user (group 0, as the image expects)
# Restricted-profile contexts for the chart's pods. Airflow's containers keep a writable root
# (the image writes under /opt/airflow); everything else of `restricted` applies.
AIRFLOW_POD_SECURITY = {"runAsNonRoot": True, "runAsUser": AIRFLOW_UID, "runAsGroup": 0, "fsGroup": 0,
                        "seccompProfile": {"type": "RuntimeDefault"}}
AIRFLOW_CONTAINER_SECURITY = {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": False}
# Service accounts the chart creates under these names, each bound to its own role below.
WORKER_SA, API_SA, TRIGGERER_SA, SCHEDULER_SA, DAG_PROCESSOR_SA = (
    "airflow-worker", "airflow-api-server", "airflow-triggerer", "airflow-scheduler", "airflow-dag-processor")


@dataclass(frozen=True)
class PipelineLocations:
    """Where the DAGs' steps read and write, as s3:// URIs. Each field is the Airflow Variable
    `mlops_<field>` the DAGs template their steps from (dags/step_args.py), set through the
    deployment's environment (AIRFLOW_VAR_MLOPS_<FIELD>): no Variable to create by hand."""
    raw_lake: pulumi.Input[str]  # clickstream/dt=.../hour=... under it
    features: pulumi.Input[str]  # a run's features under <model>/<run>/
    artifact_root: pulumi.Input[str]  # MLflow's artifact bucket; `register` logs under models/<model>/
    work: pulumi.Input[str]  # a run's model, ONNX and reports under <model>/<run>/

    def variables(self) -> list[dict]:
        """The chart's `env` entries, one AIRFLOW_VAR_MLOPS_<FIELD> per field."""
        return [{"name": f"AIRFLOW_VAR_MLOPS_{f.name.upper()}", "value": getattr(self, f.name)}
                for f in fields(self)]


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
    mlflow_tracking_uri: str
    # What the DAGs' steps run and where they read and write (dags/pipeline_tasks.py, dags/step_args.py).
    pipeline_image: pulumi.Input[str]  # <ECR repository URL>:<tag>
    pipeline_locations: PipelineLocations
    prometheus_url: str  # the release controller's canary analysis queries it
    pushgateway_url: str  # steps push mlops_pipeline_* and mlops_release_* here
    database: PostgresDatabaseArgs
    k8s_opts: pulumi.ResourceOptions


class Airflow(pulumi.ComponentResource):
    def __init__(self, name: str, args: AirflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ml:Airflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, child)

        logs, key = service_bucket(
            f"{name}-logs",
            bucket_name=global_bucket_name(args.name, "airflow-logs", args.account_id, args.region),
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

        # Workers orchestrate: the pipeline's data work runs as pods in the `pipeline` namespace
        # with that namespace's role (components/pipeline_namespace.py). Workers write task logs only.
        role(WORKER_SA, output_policy(logs_access(True), logs.arn, key.arn))
        role(API_SA, output_policy(logs_access(False), logs.arn, key.arn))  # shows task logs
        role(TRIGGERER_SA, output_policy(logs_access(True), logs.arn, key.arn))  # deferred tasks log too
        # The scheduler and DAG processor need no AWS access: no role for them.

        # Restricted: the chart's pods get the contexts below, and every pod the scheduler or a
        # worker starts here (KubernetesExecutor) must meet the profile, or admission refuses it.
        ns_opts = namespace_scope(f"{name}-ns", NAMESPACE, k8s_child, labels={
            "app.kubernetes.io/part-of": "mlops-platform", **pod_security_labels("restricted")})
        metadata = k8s.core.v1.Secret(
            f"{name}-metadata",
            metadata={"name": "airflow-metadata", "namespace": NAMESPACE},
            string_data={"connection": database.url()},
            opts=ns_opts,
        )

        log_folder = logs.id.apply(lambda b: f"s3://{b}/task-logs")
        values = {
            "executor": "KubernetesExecutor",
            "airflowVersion": AIRFLOW_VERSION,
            "defaultAirflowTag": AIRFLOW_VERSION,
            "postgresql": {"enabled": False},
            "data": {"metadataSecretName": "airflow-metadata"},
            # No PgBouncer. Airflow 3 (this chart's apiServer and dagProcessor) gives task pods no
            # metadata-DB access: they go through the API server's Task Execution API, so the
            # DB's clients are the few long-lived components, each with its own small pool. The
            # chart's PgBouncer would need a config secret of its own holding the RDS host and
            # password (with data.metadataSecretName and no pgbouncer.configSecretName it points
            # pgbouncer.ini at data.metadataConnection's host, which does not exist here), and
            # it would end TLS inside the cluster; components reach RDS directly, sslmode=require.
            "pgbouncer": {"enabled": False},
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
                # Read by the DAGs when parsed and handed to every step's pod (dags/pipeline_tasks.py).
                {"name": "PIPELINE_IMAGE", "value": args.pipeline_image},
                {"name": "PROMETHEUS_URL", "value": args.prometheus_url},
                {"name": "PUSHGATEWAY_URL", "value": args.pushgateway_url},
                {"name": "AWS_REGION", "value": args.region},
                {"name": "AWS_DEFAULT_REGION", "value": args.region},
                *args.pipeline_locations.variables(),
            ],
            "scheduler": {"replicas": args.scheduler_replicas, "serviceAccount": {"name": SCHEDULER_SA}},
            "workers": {"serviceAccount": {"name": WORKER_SA}},
            "apiServer": {"serviceAccount": {"name": API_SA}, "service": {"type": "ClusterIP"}},
            "triggerer": {"serviceAccount": {"name": TRIGGERER_SA}},
            "dagProcessor": {"enabled": True, "serviceAccount": {"name": DAG_PROCESSOR_SA}},
            # No admin/admin account: users come from the platform's identity provider.
            "webserver": {"defaultUser": {"enabled": False}},
            "nodeSelector": SYSTEM_NODES,
        }
        helm_release("airflow", AIRFLOW_CHART, NAMESPACE, merge_values(values, _isolation_values()),
                     pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=[metadata])))

        self.logs_bucket = logs.id
        self.register_outputs({"logs_bucket": logs.id, "database": database.address})


def _contexts(pod: dict | None = None, container: dict | None = None) -> dict:
    return {"securityContexts": {"pod": pod or AIRFLOW_POD_SECURITY, "container": container or AIRFLOW_CONTAINER_SECURITY}}


def _sized(cpu: str, memory: str, cpu_limit: str = "2") -> dict:
    return {"resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory}}}


def _isolation_values() -> dict:
    """The chart's NetworkPolicies, security contexts and sizes: the chart's policies admit each
    component's callers; components/network_policies.py adds the namespace's default-deny and
    egress. Per-component entries are merged over the components' own values."""
    nobody = {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534,
              "seccompProfile": {"type": "RuntimeDefault"}}  # statsd-exporter's and PgBouncer's user
    return {
        "networkPolicies": {"enabled": True},
        "securityContexts": {"pod": AIRFLOW_POD_SECURITY, "containers": AIRFLOW_CONTAINER_SECURITY},
        "scheduler": {**_contexts(), **_sized("500m", "1Gi")},
        "workers": {**_contexts(), **_sized("500m", "2Gi"),
                    # optional: workers start before the pipeline namespace's ConfigMap exists.
                    "extraVolumes": [{"name": "task-pod-template", "configMap": {
                        "name": TASK_POD_TEMPLATE_CONFIGMAP, "optional": True}}],
                    "extraVolumeMounts": [{"name": "task-pod-template", "mountPath": TASK_POD_TEMPLATE_DIR, "readOnly": True}]},
        "apiServer": {**_contexts(), **_sized("250m", "1Gi")},
        "triggerer": {**_contexts(), **_sized("250m", "1Gi")},
        "dagProcessor": {**_contexts(), **_sized("250m", "1Gi")},
        "statsd": {**_contexts(nobody, RESTRICTED_CONTAINER), **_sized("50m", "128Mi", "500m")},
        "pgbouncer": _contexts(nobody, RESTRICTED_CONTAINER),
        "migrateDatabaseJob": {**_contexts(), **_sized("200m", "512Mi")},
        "createUserJob": _contexts(),
        "dags": {"gitSync": {"securityContexts": {"container": RESTRICTED_CONTAINER}, **_sized("50m", "128Mi", "500m")}},
    }


def merge_values(values: dict, extra: dict) -> dict:
    """`extra` merged into `values` key by key (nested dicts merge, anything else replaces)."""
    merged = dict(values)
    for key, value in extra.items():
        merged[key] = merge_values(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged
