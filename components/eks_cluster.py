"""The EKS control plane: private by default, secrets encrypted, every API call logged."""
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .iam_policy import service_trust_policy
from .kms import log_group_key, rotating_key

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@dataclass(frozen=True)
class EksClusterArgs:
    name: str
    region: str
    version: str
    subnet_ids: pulumi.Input[list[str]]
    endpoint_public_access: bool
    public_access_cidrs: list[str]
    admin_role_arns: list[str]
    log_retention_days: int


class EksCluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        key = rotating_key(f"{name}-secrets", f"Kubernetes secrets of {args.name}", f"{args.name}-eks-secrets", self)
        role = aws.iam.Role(f"{name}-control-plane", assume_role_policy=service_trust_policy("eks.amazonaws.com"), opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        # Created first so the retention applies; EKS would otherwise create it with none.
        log_group_name = f"/aws/eks/{args.name}/cluster"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=log_group_key(f"{name}-control-plane-logs", log_group_name, args.region, self).arn,
            opts=child,
        )

        cluster = aws.eks.Cluster(
            name,
            name=args.name,
            version=args.version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": args.subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": args.endpoint_public_access,
                # An empty allow-list with a public endpoint would mean 0.0.0.0/0: never send it.
                "public_access_cidrs": args.public_access_cidrs if args.endpoint_public_access else None,
            },
            access_config={
                "authentication_mode": "API",
                # The identity running `pulumi up` must reach the API to install the add-ons.
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            # Refuse the silent slide into paid extended support; upgrades are deliberate.
            upgrade_policy={"support_type": "STANDARD"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment, log_group]),
        )

        for i, arn in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(f"{name}-admin-{i}", cluster_name=cluster.name, principal_arn=arn, opts=child)
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}",
                cluster_name=cluster.name,
                principal_arn=arn,
                policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )

        kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
            lambda v: _kubeconfig(v[0], v[1], v[2], args.region)
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            # Objects without a namespace go nowhere by accident.
            namespace="default",
            opts=child,
        )

        self.name = cluster.name
        self.arn = cluster.arn
        self.endpoint = cluster.endpoint
        self.version = cluster.version
        self.security_group_id = cluster.vpc_config.cluster_security_group_id
        self.register_outputs({"name": cluster.name, "endpoint": cluster.endpoint, "arn": cluster.arn})


def _kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
    # Tokens come from `aws eks get-token` at each call: nothing long-lived is stored in state.
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
        }}}],
    }, sort_keys=True)
