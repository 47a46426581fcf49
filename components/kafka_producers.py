"""The role the shop's clickstream producers assume: write the declared lake topics, nothing else.

Two ways in, both configured per stack: IAM principals outside the cluster (the web and app
tiers' own roles) assume it with sts:AssumeRole; in-cluster producers get it through EKS Pod
Identity, one association per namespace/service account. Either way the client signs its
Kafka connection with the role's credentials (IAM SASL, `aws-msk-iam-sasl-signer-python`)."""
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .iam_policy import output_policy, policy_document
from .kafka_access import producer_statements
from .pod_identity import pod_identity_statement


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str


@dataclass(frozen=True)
class KafkaProducerRoleArgs:
    name: str
    cluster_name: pulumi.Input[str]
    msk_cluster_arn: pulumi.Input[str]
    topics: list[str]
    principal_arns: list[str] = field(default_factory=list)
    service_accounts: list[ServiceAccount] = field(default_factory=list)


def producer_trust(cluster_name: str, principal_arns: list[str], service_accounts: list[ServiceAccount]) -> str:
    """Trust for the listed IAM principals and, per service account, the EKS Pod Identity agent
    conditioned on the session tags EKS sets (cluster, namespace, service account), so no other
    association in the account can use the role (same rule as pod_identity.pod_identity_trust).
    Raises ValueError when nobody would be trusted."""
    statements = []
    if principal_arns:
        statements.append({"Effect": "Allow", "Principal": {"AWS": sorted(principal_arns)}, "Action": ["sts:AssumeRole"]})
    statements += [pod_identity_statement(cluster_name, sa.namespace, sa.name)
                   for sa in sorted(service_accounts, key=lambda a: (a.namespace, a.name))]
    if not statements:
        raise ValueError("a producer role needs at least one principal ARN or service account")
    return policy_document(*statements)


class KafkaProducerRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KafkaProducerRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:KafkaProducerRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=f"{args.name}-clickstream-producer",
            description=f"Kafka producers of {args.name}: write {', '.join(args.topics)}",
            assume_role_policy=pulumi.Output.from_input(args.cluster_name).apply(
                lambda cluster: producer_trust(cluster, args.principal_arns, args.service_accounts)),
            opts=child,
        )
        aws.iam.RolePolicy(name, role=role.id, policy=output_policy(
            lambda cluster_arn: producer_statements(cluster_arn, args.topics), args.msk_cluster_arn), opts=child)
        for sa in args.service_accounts:
            aws.eks.PodIdentityAssociation(
                f"{name}-{sa.namespace}-{sa.name}",
                cluster_name=args.cluster_name,
                namespace=sa.namespace,
                service_account=sa.name,
                role_arn=role.arn,
                opts=child,
            )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": role.arn})
