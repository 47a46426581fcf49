"""An IAM role for one Kubernetes service account through EKS Pod Identity.

Every workload gets its own role bound to exactly one namespace/service-account pair, so a
compromised pod holds only its own permissions (nodes keep none beyond what nodes need)."""
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .iam_policy import policy_document

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
# The session tags EKS Pod Identity sets when it assumes a role (EKS user guide, "Create IAM
# role with trust policy required by EKS Pod Identity" and "List of session tags").
SESSION_TAG_CLUSTER = "aws:RequestTag/eks-cluster-name"
SESSION_TAG_NAMESPACE = "aws:RequestTag/kubernetes-namespace"
SESSION_TAG_SERVICE_ACCOUNT = "aws:RequestTag/kubernetes-service-account"


def pod_identity_statement(cluster_name: str, namespace: str, service_account: str) -> dict:
    """The trust statement for pods.eks.amazonaws.com (AssumeRole and TagSession: Pod Identity
    tags each session), conditioned on the session tags, so the role serves only this cluster's
    namespace/service account even if another association in the account names it."""
    return {
        "Effect": "Allow",
        "Principal": {"Service": POD_IDENTITY_SERVICE},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {
            SESSION_TAG_CLUSTER: cluster_name,
            SESSION_TAG_NAMESPACE: namespace,
            SESSION_TAG_SERVICE_ACCOUNT: service_account,
        }},
    }


def pod_identity_trust(cluster_name: str, namespace: str, service_account: str) -> str:
    """A trust policy of the one `pod_identity_statement`."""
    return policy_document(pod_identity_statement(cluster_name, namespace, service_account))


@dataclass(frozen=True)
class PodIdentityRoleArgs:
    cluster_name: pulumi.Input[str]
    namespace: str
    service_account: str
    policy_json: pulumi.Input[str] | None = None
    managed_policy_arns: list[str] = field(default_factory=list)


class PodIdentityRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PodIdentityRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:iam:PodIdentityRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            assume_role_policy=pulumi.Output.from_input(args.cluster_name).apply(
                lambda cluster: pod_identity_trust(cluster, args.namespace, args.service_account)),
            description=f"Pod Identity for {args.namespace}/{args.service_account}",
            opts=child,
        )
        if args.policy_json is not None:
            aws.iam.RolePolicy(name, role=role.id, policy=args.policy_json, opts=child)
        for i, arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-{i}", role=role.name, policy_arn=arn, opts=child)
        aws.eks.PodIdentityAssociation(
            name,
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=args.service_account,
            role_arn=role.arn,
            opts=child,
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": role.arn})
