"""GitHub Actions into AWS without stored keys: the account's GitHub OIDC provider (or the one it
has already) and three roles per environment, each assumable only by this repository's workflow
jobs that serve it.

- images: pushes from `images_branch` (`sub` = repo:<owner/name>:ref:refs/heads/<branch>); ECR
  push to this stack's repositories, nothing else.
- deploy: jobs in the GitHub environment `deploy_environment` (`sub` = repo:<owner/name>:
  environment:<name>); what `pulumi up` of this program needs, plus cluster-admin on the cluster.
- release: jobs in `release_environment`; `eks:DescribeCluster` on this cluster and, inside it,
  a port-forward to the MLflow service and to the Pushgateway's one pod only (the release CLI
  talks to MLflow with its own credentials and records each decision as mlops_release_* there;
  model versions move in the registry, not through AWS).

Every trust statement pins `aud` to sts.amazonaws.com and `sub` to one exact value with
StringEquals, so neither a fork, a pull request nor another branch can assume a role. The
policy pack checks this on every preview (policy/delivery_rules.py).
"""
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .iam_policy import allow, output_policy, policy_document

GITHUB_ISSUER = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials asks GitHub to put in the token.
AUDIENCE = "sts.amazonaws.com"
RELEASE_GROUP = "mlops:release"


@dataclass(frozen=True)
class GithubOidcArgs:
    name: str  # the stack's name prefix, e.g. xyz-mlops-prod
    account_id: str
    region: str
    repository: str  # owner/name
    existing_provider_arn: str | None
    images_branch: str
    deploy_environment: str
    release_environment: str
    ecr_repository_arns: list[str]
    cluster_name: pulumi.Input[str]
    mlflow_namespace: str
    mlflow_service: str
    # Where the release CLI pushes mlops_release_*: a pod name fixed by its StatefulSet, so the
    # port-forward right names that pod and no other in the monitoring namespace.
    monitoring_namespace: str
    pushgateway_pod: str
    k8s_opts: pulumi.ResourceOptions


def subject(repository: str, *, branch: str | None = None, environment: str | None = None) -> str:
    """The `sub` claim GitHub puts in a job's token: `repo:<owner/name>:environment:<env>` for a
    job with `environment:`, else `repo:<owner/name>:ref:refs/heads/<branch>` for a branch push
    (GitHub docs, "About security hardening with OpenID Connect", example subject claims)."""
    if (branch is None) == (environment is None):
        raise ValueError("subject takes exactly one of branch or environment")
    return f"repo:{repository}:environment:{environment}" if environment else f"repo:{repository}:ref:refs/heads/{branch}"


def images_policy(repository_arns: list[str]) -> list[dict]:
    return [
        # GetAuthorizationToken has no resource-level permissions (AWS: ECR actions table).
        allow(["ecr:GetAuthorizationToken"], "*"),
        allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
               "ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:GetDownloadUrlForLayer",
               "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"], sorted(repository_arns)),
    ]


# IAM prefix per pulumi-aws module the program declares; tests/test_delivery_oidc.py checks that
# every AWS resource type in every stack's preview is covered, so a new service fails the tests
# until its permission is granted here with a reason.
DEPLOY_SERVICES = {
    "cloudwatch": "logs", "ec2": "ec2", "vpc": "ec2", "ecr": "ecr", "eks": "eks", "elasticache": "elasticache",
    "iam": "iam", "kms": "kms", "msk": "kafka", "rds": "rds", "s3": "s3", "secretsmanager": "secretsmanager",
    "kinesis": "firehose", "glue": "glue", "athena": "athena",
}


def deploy_policy(name: str, account_id: str, region: str) -> list[dict]:
    """What `pulumi up` of infra/program.py needs. Scoped by name where the program chooses the
    physical name (`<name>-...`); broad where AWS or Pulumi chooses it, with the reason beside."""
    arn = f"{account_id}:"
    return [
        {**allow(["sts:GetCallerIdentity", "ec2:DescribeAvailabilityZones", "eks:DescribeAddonVersions",
                  "ecr:GetAuthorizationToken", "kms:CreateKey", "kms:ListAliases"], "*"),
         # Read-only lookups and creations that AWS defines without a resource ARN.
         "Sid": "Unscoped"},
        # VPC, subnets, NAT, route tables, security groups, endpoints, flow logs, launch templates:
        # their IDs are chosen by AWS at create time, so no ARN pattern can name them in advance.
        {**allow(["ec2:*"], "*"), "Sid": "Network"},
        # Aliases and keys: key IDs are AWS-chosen UUIDs; the program names aliases alias/<name>-*.
        {**allow(["kms:*"], [f"arn:aws:kms:{region}:{arn}key/*", f"arn:aws:kms:{region}:{arn}alias/{name}-*"]),
         "Sid": "Keys"},
        {**allow(["eks:*"], [f"arn:aws:eks:{region}:{arn}cluster/{name}",
                             f"arn:aws:eks:{region}:{arn}nodegroup/{name}/*",
                             f"arn:aws:eks:{region}:{arn}addon/{name}/*",
                             f"arn:aws:eks:{region}:{arn}podidentityassociation/{name}/*",
                             f"arn:aws:eks:{region}:{arn}access-entry/{name}/*"]), "Sid": "Cluster"},
        {**allow(["ecr:*"], f"arn:aws:ecr:{region}:{arn}repository/{name}/*"), "Sid": "Registry"},
        {**allow(["s3:*"], [f"arn:aws:s3:::{name}-*", f"arn:aws:s3:::{name}-*/*"]), "Sid": "Buckets"},
        {**allow(["logs:*"], [f"arn:aws:logs:{region}:{arn}log-group:*"]),
         # Flow-log and EKS log group names are set by the program, but DescribeLogGroups and
         # tagging list every group of the account.
         "Sid": "Logs"},
        # MSK cluster and configuration ARNs carry an AWS-chosen UUID; topics live under them.
        {**allow(["kafka:*", "kafka-cluster:*"], "*"), "Sid": "Streaming"},
        # Firehose streams, the Glue database and tables and the Athena workgroup (lake ingestion):
        # named <name>-* (Glue: <name with _>_lake), but Glue checks the catalog ARN too and
        # Firehose's CreateDeliveryStream validates its source and destination by their own ARNs.
        {**allow(["firehose:*"], f"arn:aws:firehose:{region}:{arn}deliverystream/{name}-*"), "Sid": "LakeIngest"},
        {**allow(["glue:*"], [f"arn:aws:glue:{region}:{arn}catalog",
                              f"arn:aws:glue:{region}:{arn}database/{name.replace('-', '_')}_*",
                              f"arn:aws:glue:{region}:{arn}table/{name.replace('-', '_')}_*/*"]), "Sid": "LakeCatalog"},
        {**allow(["athena:*"], f"arn:aws:athena:{region}:{arn}workgroup/{name}-*"), "Sid": "LakeQuery"},
        # ElastiCache and RDS subnet/parameter groups and instances are named <name>-*, but their
        # Describe* calls and CreateReplicationGroup check permissions on several ARN kinds.
        {**allow(["elasticache:*"], "*"), "Sid": "Cache"},
        {**allow(["rds:*"], "*"), "Sid": "Databases"},
        # Database and cache credentials, named <name>-<service>/... or <name>/...; AWS appends
        # a random suffix to every secret's ARN.
        {**allow(["secretsmanager:*"], [f"arn:aws:secretsmanager:{region}:{arn}secret:{name}-*",
                                        f"arn:aws:secretsmanager:{region}:{arn}secret:{name}/*"]), "Sid": "Secrets"},
        # Roles are auto-named by Pulumi (logical name + random suffix), so only the account's
        # role/* pattern can hold them. This is the broadest grant: whoever can create roles and
        # pass them can act as any of them. It is why the trust admits only the deploy GitHub
        # environment (prod: required reviewers) and never a branch or a pull request.
        {**allow(["iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy",
                  "iam:DetachRolePolicy", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                  "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:PassRole", "iam:PutRolePolicy",
                  "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole"],
                 f"arn:aws:iam::{arn}role/*"), "Sid": "Roles"},
        {**allow(["iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
                  "iam:TagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint"],
                 f"arn:aws:iam::{arn}oidc-provider/{GITHUB_ISSUER}"), "Sid": "GithubProvider"},
        # EKS, RDS, ElastiCache, MSK and node autoscaling create their service-linked roles on first use.
        {**allow(["iam:CreateServiceLinkedRole"], f"arn:aws:iam::{arn}role/aws-service-role/*"), "Sid": "ServiceLinkedRoles"},
    ]


class GithubOidc(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    role_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GithubOidcArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:delivery:GithubOidc", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        if args.existing_provider_arn:
            provider_arn: pulumi.Input[str] = args.existing_provider_arn
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-provider",
                url=f"https://{GITHUB_ISSUER}",
                client_id_lists=[AUDIENCE],
                # No thumbprint: IAM validates GitHub's certificate against its own trusted CAs.
                opts=child,
            )
            provider_arn = provider.arn

        repo = args.repository
        trusts = {
            "images": subject(repo, branch=args.images_branch),
            "deploy": subject(repo, environment=args.deploy_environment),
            "release": subject(repo, environment=args.release_environment),
        }
        cluster_arn = f"arn:aws:eks:{args.region}:{args.account_id}:cluster/{args.name}"
        policies = {
            "images": policy_document(*images_policy(args.ecr_repository_arns)),
            "deploy": policy_document(*deploy_policy(args.name, args.account_id, args.region)),
            "release": policy_document(allow(["eks:DescribeCluster"], cluster_arn)),
        }
        roles = {}
        for kind, sub in trusts.items():
            role = aws.iam.Role(
                f"{name}-{kind}",
                name=f"{args.name}-github-{kind}",
                description=f"GitHub Actions {kind} for {args.name}: {sub}",
                assume_role_policy=output_policy(lambda arn, sub=sub: [trust_statement(arn, sub)], provider_arn),
                # Two hours for deploy: a first `pulumi up` creates EKS and MSK, which can pass one.
                max_session_duration=7200 if kind == "deploy" else 3600,
                opts=child,
            )
            aws.iam.RolePolicy(f"{name}-{kind}", role=role.id, policy=policies[kind], opts=child)
            roles[kind] = role

        entry_opts = pulumi.ResourceOptions(parent=self)
        deploy_entry = aws.eks.AccessEntry(f"{name}-deploy", cluster_name=args.cluster_name,
                                           principal_arn=roles["deploy"].arn, opts=entry_opts)
        # pulumi-kubernetes installs CRDs, ClusterRoles and namespaces: only cluster-admin can.
        aws.eks.AccessPolicyAssociation(
            f"{name}-deploy",
            cluster_name=args.cluster_name,
            principal_arn=roles["deploy"].arn,
            policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            access_scope={"type": "cluster"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deploy_entry]),
        )
        # The release role gets no access policy: only the group below, bound in one namespace.
        aws.eks.AccessEntry(f"{name}-release", cluster_name=args.cluster_name, principal_arn=roles["release"].arn,
                            kubernetes_groups=[RELEASE_GROUP], opts=entry_opts)

        k8s_child = pulumi.ResourceOptions.merge(args.k8s_opts, pulumi.ResourceOptions(parent=self))
        # `kubectl port-forward svc/<mlflow>` reads the Service, picks one of its pods and opens
        # the tunnel: nothing else, and only in the MLflow namespace.
        self._release_role(f"{name}-release", "release-port-forward", args.mlflow_namespace, [
            {"apiGroups": [""], "resources": ["services"], "resourceNames": [args.mlflow_service], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]},
        ], k8s_child)
        # `kubectl port-forward pod/<pushgateway-0>`: that one pod of the monitoring namespace.
        self._release_role(f"{name}-release-pushgateway", "release-pushgateway", args.monitoring_namespace, [
            {"apiGroups": [""], "resources": ["pods"], "resourceNames": [args.pushgateway_pod], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods/portforward"], "resourceNames": [args.pushgateway_pod],
             "verbs": ["create"]},
        ], k8s_child)

        self.provider_arn = pulumi.Output.from_input(provider_arn)
        self.role_arns = {kind: role.arn for kind, role in roles.items()}
        self.register_outputs({"provider_arn": self.provider_arn, "role_arns": self.role_arns})

    def _release_role(self, resource_name: str, role_name: str, namespace: str, rules: list[dict],
                      opts: pulumi.ResourceOptions) -> None:
        """A Role with `rules` in `namespace`, bound to the release group."""
        role = k8s.rbac.v1.Role(resource_name, metadata={"name": role_name, "namespace": namespace}, rules=rules,
                                opts=opts)
        k8s.rbac.v1.RoleBinding(
            resource_name,
            metadata={"name": role_name, "namespace": namespace},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": RELEASE_GROUP}],
            opts=opts,
        )


def trust_statement(provider_arn: str, sub: str) -> dict:
    """One web-identity statement: `aud` and `sub` both pinned with StringEquals (no wildcard)."""
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{GITHUB_ISSUER}:aud": AUDIENCE, f"{GITHUB_ISSUER}:sub": sub}},
    }
