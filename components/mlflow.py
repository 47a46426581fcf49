"""MLflow tracking server and model registry: PostgreSQL metadata, S3 artifacts, internal only,
and every request authenticated (MLflow's basic-auth app)."""
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from .iam_policy import allow, output_policy
from .k8s_defaults import RESTRICTED_CONTAINER, namespace_scope, pod_security_labels, restricted_pod, zone_spread
from .node_placement import SYSTEM_NODES
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs
from .postgres import PostgresDatabase, PostgresDatabaseArgs
from .secure_bucket import global_bucket_name, service_bucket

NAMESPACE = "mlflow"
PORT = 5000
AUTH_CONFIG_DIR = "/etc/mlflow-auth"
CLIENTS_DIR = "/etc/mlflow-clients"
# services/mlflow/provision_users.py, in the server image: creates or re-keys the client users.
PROVISION_SCRIPT = "/opt/mlflow-platform/provision_users.py"


def auth_config(database_uri: str, admin_password: str) -> str:
    """MLflow's basic-auth configuration (mlflow/server/auth/basic_auth.ini keys). Users and
    permissions live in the tracking database (their own alembic_version_auth table). Any
    authenticated user may read; a client that creates an experiment or registered model
    manages it (MLflow grants the creator MANAGE), so only the pipeline moves `champion`."""
    return "\n".join([
        "[mlflow]",
        "default_permission = READ",
        f"database_uri = {database_uri}",
        "admin_username = admin",
        f"admin_password = {admin_password}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access = false",
        "",
    ])


@dataclass(frozen=True)
class MlflowTrackingArgs:
    name: str
    account_id: str
    region: str
    cluster_name: pulumi.Input[str]
    image: pulumi.Input[str]
    replicas: int
    high_availability: bool
    force_destroy: bool
    noncurrent_version_expiration_days: int
    access_log_bucket: pulumi.Input[str]
    database: PostgresDatabaseArgs
    k8s_opts: pulumi.ResourceOptions
    # MLflow users for the platform's clients (e.g. pipeline, model-server); each gets a
    # generated password, handed out as `client_passwords[user]`.
    client_users: list[str] = field(default_factory=list)


class MlflowTracking(pulumi.ComponentResource):
    tracking_uri: str
    artifact_bucket_name: pulumi.Output[str]
    artifact_bucket_arn: pulumi.Output[str]
    artifact_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: MlflowTrackingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ml:MlflowTracking", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, child)

        bucket, key = service_bucket(
            f"{name}-artifacts",
            bucket_name=global_bucket_name(args.name, "mlflow", args.account_id, args.region),
            key_alias=f"{args.name}-mlflow",
            purpose=f"MLflow artifacts of {args.name}",
            force_destroy=args.force_destroy,
            noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
            access_log_bucket=args.access_log_bucket,
            parent=self,
        )
        database = PostgresDatabase(f"{name}-db", args.database, opts=child)

        # Restricted: the server and its init container run as uid 10001, read-only root.
        ns_opts = namespace_scope(f"{name}-ns", NAMESPACE, k8s_child, labels={
            "app.kubernetes.io/part-of": "mlops-platform", **pod_security_labels("restricted")})
        # The server never calls the Kubernetes API: no token in its pods.
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata={"name": "mlflow", "namespace": NAMESPACE},
                                             automount_service_account_token=False, opts=ns_opts)
        # With --no-serve-artifacts clients read and write S3 with their own roles; the server
        # only reads (artifact listings in the UI). No Put, no Delete: `mlflow gc` is an
        # operator's job run with its own credentials.
        PodIdentityRole(f"{name}-server", PodIdentityRoleArgs(
            cluster_name=args.cluster_name,
            namespace=NAMESPACE,
            service_account="mlflow",
            policy_json=output_policy(lambda arn, key_arn: [
                allow(["s3:ListBucket", "s3:GetBucketLocation"], arn),
                allow(["s3:GetObject"], f"{arn}/*"),
                allow(["kms:Decrypt"], key_arn,
                      Condition={"StringEquals": {"kms:ViaService": f"s3.{args.region}.amazonaws.com"}}),
            ], bucket.arn, key.arn),
        ), opts=child)

        # Basic auth: the admin password and the Flask session key are generated here and never
        # leave the namespace; each client user gets its own password.
        admin_password = random.RandomPassword(f"{name}-admin", length=40, special=False, opts=child)
        session_key = random.RandomPassword(f"{name}-flask-secret", length=64, special=False, opts=child)
        passwords = {user: random.RandomPassword(f"{name}-user-{user}", length=40, special=False, opts=child)
                     for user in args.client_users}
        auth = k8s.core.v1.Secret(
            f"{name}-auth-config",
            metadata={"name": "mlflow-auth-config", "namespace": NAMESPACE},
            string_data={
                "basic_auth.ini": pulumi.Output.all(database.url(), admin_password.result).apply(
                    lambda v: auth_config(v[0], v[1])),
                "flask-secret-key": session_key.result,
            },
            opts=ns_opts,
        )
        clients = k8s.core.v1.Secret(
            f"{name}-clients",
            metadata={"name": "mlflow-clients", "namespace": NAMESPACE},
            # One file per user: the file name is the user name, its content the password.
            string_data={user: p.result for user, p in passwords.items()},
            opts=ns_opts,
        )

        backend = k8s.core.v1.Secret(
            f"{name}-backend-store",
            metadata={"name": "mlflow-backend-store", "namespace": NAMESPACE},
            string_data={"uri": database.url()},
            opts=ns_opts,
        )

        labels = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/part-of": "mlops-platform"}
        artifact_root = bucket.id.apply(lambda b: f"s3://{b}/experiments")
        k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata={"name": "mlflow", "namespace": NAMESPACE, "labels": labels},
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": account.metadata.name,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod(),
                        "topologySpreadConstraints": zone_spread(labels, args.high_availability),
                        "nodeSelector": SYSTEM_NODES,
                        # Creates the client users (or sets their passwords) before the server
                        # starts; idempotent, so every replica may run it.
                        "initContainers": [{
                            "name": "provision-users",
                            "image": args.image,
                            "command": ["python", PROVISION_SCRIPT, "--clients-dir", CLIENTS_DIR],
                            "env": [{"name": "MLFLOW_AUTH_CONFIG_PATH", "value": f"{AUTH_CONFIG_DIR}/basic_auth.ini"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                          "limits": {"cpu": "500m", "memory": "256Mi"}},
                            "securityContext": RESTRICTED_CONTAINER,
                            "volumeMounts": [
                                {"name": "auth-config", "mountPath": AUTH_CONFIG_DIR, "readOnly": True},
                                {"name": "clients", "mountPath": CLIENTS_DIR, "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }],
                        "containers": [{
                            "name": "mlflow",
                            "image": args.image,
                            "args": [
                                "server", "--host", "0.0.0.0", "--port", str(PORT),
                                # Every API call needs a user; /health stays open for probes.
                                "--app-name", "basic-auth",
                                "--backend-store-uri", "$(MLFLOW_BACKEND_STORE_URI)",
                                "--default-artifact-root", artifact_root,
                                # Clients read and write artifacts in S3 with their own Pod
                                # Identity roles; the server never proxies model bytes.
                                "--no-serve-artifacts",
                                "--workers", "2",
                            ],
                            "env": [
                                {"name": "MLFLOW_BACKEND_STORE_URI",
                                 "valueFrom": {"secretKeyRef": {"name": backend.metadata.name, "key": "uri"}}},
                                {"name": "AWS_REGION", "value": args.region},
                                {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": f"{AUTH_CONFIG_DIR}/basic_auth.ini"},
                                # MLflow reads the Flask key from the environment only.
                                {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY",
                                 "valueFrom": {"secretKeyRef": {"name": auth.metadata.name, "key": "flask-secret-key"}}},
                                # On by default in MLflow 3.x with a database backend: `mlflow server`
                                # then starts a job runner and seven huey consumers beside the web
                                # workers, each importing MLflow, for GenAI jobs the platform never
                                # runs. This image with one web worker: 10 processes, 2,404 MB RSS,
                                # against 2 and 517 MB with it off (2026-12-01), past this 1 GiB
                                # limit. The tests' servers turn it off as well.
                                {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
                            ],
                            "ports": [{"name": "http", "containerPort": PORT}],
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                          "limits": {"cpu": "2", "memory": "1Gi"}},
                            "readinessProbe": {"httpGet": {"path": "/health", "port": PORT}, "periodSeconds": 10},
                            "livenessProbe": {"httpGet": {"path": "/health", "port": PORT},
                                              "initialDelaySeconds": 30, "periodSeconds": 20},
                            "securityContext": RESTRICTED_CONTAINER,
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                                             {"name": "auth-config", "mountPath": AUTH_CONFIG_DIR, "readOnly": True}],
                        }],
                        "volumes": [
                            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                            {"name": "auth-config", "secret": {"secretName": auth.metadata.name, "defaultMode": 0o440}},
                            {"name": "clients", "secret": {"secretName": clients.metadata.name, "defaultMode": 0o440}},
                        ],
                    },
                },
            },
            opts=ns_opts,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": "mlflow", "namespace": NAMESPACE, "labels": labels},
            # ClusterIP only: MLflow is reached from inside the cluster, never from the internet.
            spec={"type": "ClusterIP", "selector": labels, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]},
            opts=ns_opts,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": "mlflow", "namespace": NAMESPACE},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
            opts=ns_opts,
        )

        self.tracking_uri = f"http://mlflow.{NAMESPACE}.svc.cluster.local:{PORT}"
        self.namespace = NAMESPACE
        self.port = PORT
        self.client_passwords = {user: pulumi.Output.secret(p.result) for user, p in passwords.items()}
        self.artifact_bucket_name = bucket.id
        self.artifact_bucket_arn = bucket.arn
        self.artifact_key_arn = key.arn
        self.register_outputs({"tracking_uri": self.tracking_uri, "artifact_bucket": bucket.id})
