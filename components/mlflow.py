"""MLflow tracking server and model registry: PostgreSQL metadata, S3 artifacts, internal only."""
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .iam_policy import allow, output_policy
from .k8s_defaults import RESTRICTED_CONTAINER, namespace_scope, restricted_pod, zone_spread
from .node_placement import SYSTEM_NODES
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs
from .postgres import PostgresDatabase, PostgresDatabaseArgs
from .secure_bucket import global_bucket_name, service_bucket

NAMESPACE = "mlflow"
PORT = 5000


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

        ns_opts = namespace_scope(f"{name}-ns", NAMESPACE, k8s_child)
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata={"name": "mlflow", "namespace": NAMESPACE}, opts=ns_opts)
        # The server reads and deletes run artifacts (garbage collection); clients upload to S3
        # with their own roles, so this role is the bucket's and nothing else's.
        PodIdentityRole(f"{name}-server", PodIdentityRoleArgs(
            cluster_name=args.cluster_name,
            namespace=NAMESPACE,
            service_account="mlflow",
            policy_json=output_policy(lambda arn, key_arn: [
                allow(["s3:ListBucket", "s3:GetBucketLocation"], arn),
                allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"{arn}/*"),
                allow(["kms:Decrypt", "kms:GenerateDataKey"], key_arn),
            ], bucket.arn, key.arn),
        ), opts=child)

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
                        "securityContext": restricted_pod(),
                        "topologySpreadConstraints": zone_spread(labels, args.high_availability),
                        "nodeSelector": SYSTEM_NODES,
                        "containers": [{
                            "name": "mlflow",
                            "image": args.image,
                            "args": [
                                "server", "--host", "0.0.0.0", "--port", str(PORT),
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
                            ],
                            "ports": [{"name": "http", "containerPort": PORT}],
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                          "limits": {"cpu": "2", "memory": "1Gi"}},
                            "readinessProbe": {"httpGet": {"path": "/health", "port": PORT}, "periodSeconds": 10},
                            "livenessProbe": {"httpGet": {"path": "/health", "port": PORT},
                                              "initialDelaySeconds": 30, "periodSeconds": 20},
                            "securityContext": RESTRICTED_CONTAINER,
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }],
                        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
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
        self.artifact_bucket_name = bucket.id
        self.artifact_bucket_arn = bucket.arn
        self.artifact_key_arn = key.arn
        self.register_outputs({"tracking_uri": self.tracking_uri, "artifact_bucket": bucket.id})
