"""An IAM role for one Kubernetes service account through EKS Pod Identity.

Every workload gets its own role bound to exactly one namespace/service-account pair, so a
compromised pod holds only its own permissions (nodes keep none beyond what nodes need)."""
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .iam_policy import service_trust_policy

# Pod Identity needs TagSession: the agent tags sessions with cluster, namespace and pod.
POD_IDENTITY_TRUST = service_trust_policy("pods.eks.amazonaws.com", actions=("sts:AssumeRole", "sts:TagSession"))


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
            assume_role_policy=POD_IDENTITY_TRUST,
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
