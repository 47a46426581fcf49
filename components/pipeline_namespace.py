"""Where the training pipeline's task pods run (Airflow's KubernetesPodOperator): a namespace of
their own under Pod Security `restricted`, the `pipeline` service account with its own Pod
Identity role, the MLflow credentials as files, and the one grant Airflow's workers get here:
managing pods in this namespace and nowhere else.

Tasks are code merged to the DAG repository; running them apart from Airflow means a task can
neither read Airflow's metadata secret nor start a privileged pod (admission refuses it)."""
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from .iam_policy import allow, output_policy
from .k8s_defaults import RESTRICTED_CONTAINER, namespace_scope, pod_security_labels, restricted_pod
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs

NAMESPACE = "pipeline"
SERVICE_ACCOUNT = "pipeline"
MLFLOW_AUTH_SECRET = "mlflow-auth"
# The contract every MLflow client of the platform reads: MLFLOW_AUTH_DIR holds `username` and
# `password` (services/pipeline, services/serving).
MLFLOW_AUTH_DIR = "/var/run/secrets/mlflow-auth"
# The file KubernetesPodOperator's `pod_template_file` names, inside the ConfigMap the launcher's
# workers mount (components/airflow.py: /opt/airflow/pod_templates/pipeline-task.yaml).
TASK_POD_TEMPLATE_FILE = "pipeline-task.yaml"


def task_pod_template() -> dict:
    """The pod every pipeline task starts from: namespace `pipeline`, service account
    `pipeline`, the restricted profile, MLFLOW_AUTH_DIR with the credentials as files, a
    writable /tmp. A task sets its image, command and resources (GPU training adds
    nvidia.com/gpu and the GPU toleration); admission refuses anything less restricted."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "mlops-platform"}},
        "spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": restricted_pod(),
            "containers": [{
                # KubernetesPodOperator fills in the container named `base`.
                "name": "base",
                "securityContext": RESTRICTED_CONTAINER,
                "env": [{"name": "MLFLOW_AUTH_DIR", "value": MLFLOW_AUTH_DIR}],
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                "volumeMounts": [{"name": "mlflow-auth", "mountPath": MLFLOW_AUTH_DIR, "readOnly": True},
                                 {"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [{"name": "mlflow-auth", "secret": {"secretName": MLFLOW_AUTH_SECRET, "defaultMode": 0o440}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}],
        },
    }


@dataclass(frozen=True)
class PipelineNamespaceArgs:
    cluster_name: pulumi.Input[str]
    region: str
    # Lake zones by name (raw, curated, features) and their shared key.
    lake_bucket_arns: dict[str, pulumi.Input[str]]
    lake_key_arn: pulumi.Input[str]
    mlflow_bucket_arn: pulumi.Input[str]
    mlflow_key_arn: pulumi.Input[str]
    mlflow_username: str
    mlflow_password: pulumi.Input[str]
    # Airflow's namespace and the service accounts that start task pods (workers; the
    # scheduler for KubernetesExecutor's own pods stays in Airflow's namespace).
    launcher_namespace: str
    launcher_service_accounts: list[str]
    # The ConfigMap (in launcher_namespace) Airflow's workers mount the task pod template from.
    task_pod_template_configmap: str
    k8s_opts: pulumi.ResourceOptions


def pipeline_policy(region: str):
    """Statements of the pipeline role: read raw and curated, write features, write model
    artifacts under models/ of the MLflow bucket; KMS only through S3."""
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}

    def build(raw, curated, features, lake_key, mlflow_arn, mlflow_key):
        return [
            allow(["s3:ListBucket", "s3:GetBucketLocation"], [raw, curated, features]),
            allow(["s3:GetObject"], [f"{raw}/*", f"{curated}/*", f"{features}/*"]),
            allow(["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], f"{features}/*"),
            allow(["s3:ListBucket"], mlflow_arn, Condition={"StringLike": {"s3:prefix": ["models", "models/*"]}}),
            allow(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], f"{mlflow_arn}/models/*"),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], [lake_key, mlflow_key], Condition=via_s3),
        ]
    return build


class PipelineNamespace(pulumi.ComponentResource):
    namespace: str
    service_account: str
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PipelineNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ml:PipelineNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, child)
        ns_opts = namespace_scope(f"{name}-ns", NAMESPACE, k8s_child, labels={
            "app.kubernetes.io/part-of": "mlops-platform", **pod_security_labels("restricted")})

        lake = args.lake_bucket_arns
        role = PodIdentityRole(f"{name}-tasks", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT,
            policy_json=output_policy(pipeline_policy(args.region), lake["raw"], lake["curated"], lake["features"],
                                      args.lake_key_arn, args.mlflow_bucket_arn, args.mlflow_key_arn),
        ), opts=child)

        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"name": SERVICE_ACCOUNT, "namespace": NAMESPACE},
            # Tasks call AWS and MLflow, never the Kubernetes API.
            automount_service_account_token=False,
            opts=ns_opts,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-task-pod-template",
            metadata={"name": args.task_pod_template_configmap, "namespace": args.launcher_namespace},
            data={TASK_POD_TEMPLATE_FILE: yaml.safe_dump(task_pod_template(), sort_keys=True)},
            opts=k8s_child,
        )
        k8s.core.v1.Secret(
            f"{name}-mlflow-auth",
            metadata={"name": MLFLOW_AUTH_SECRET, "namespace": NAMESPACE},
            string_data={"username": args.mlflow_username, "password": args.mlflow_password},
            opts=ns_opts,
        )

        # What KubernetesPodOperator does: create, watch, read logs of and delete its pods.
        # No exec, no secrets, no other namespace; admission (restricted) refuses privileged pods.
        launcher = k8s.rbac.v1.Role(
            f"{name}-pod-launcher",
            metadata={"name": "pod-launcher", "namespace": NAMESPACE},
            rules=[
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete", "patch"]},
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
            ],
            opts=ns_opts,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-pod-launcher",
            metadata={"name": "airflow-pod-launcher", "namespace": NAMESPACE},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": launcher.metadata["name"]},
            subjects=[{"kind": "ServiceAccount", "name": sa, "namespace": args.launcher_namespace}
                      for sa in args.launcher_service_accounts],
            opts=ns_opts,
        )

        self.namespace = NAMESPACE
        self.service_account = SERVICE_ACCOUNT
        self.role_arn = role.role_arn
        self.register_outputs({"namespace": NAMESPACE, "service_account": SERVICE_ACCOUNT, "role_arn": role.role_arn})
