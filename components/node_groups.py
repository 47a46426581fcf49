"""EKS managed node groups: `system` for platform services and serving, `gpu` for training."""
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .iam_policy import service_trust_policy
from .node_placement import NODE_ROLE_LABEL

# What a node itself needs and no more: join the cluster, wire pod networking, pull images.
# Workloads get their AWS permissions from Pod Identity, never from the node role.
NODE_MANAGED_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
]


@dataclass(frozen=True)
class NodeGroupSpec:
    role: str  # system | gpu
    ami_type: str
    instance_types: list[str]
    capacity_type: str
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class NodeGroupsArgs:
    cluster_name: pulumi.Input[str]
    name: str
    subnet_ids: pulumi.Input[list[str]]
    groups: list[NodeGroupSpec]


class NodeGroups(pulumi.ComponentResource):
    node_group_names: dict[str, pulumi.Output[str]]
    node_role_arn: pulumi.Output[str]
    resources: list[pulumi.Resource]

    def __init__(self, name: str, args: NodeGroupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:NodeGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-node", assume_role_policy=service_trust_policy("ec2.amazonaws.com"), opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{arn.rsplit('/', 1)[1]}", role=role.name, policy_arn=arn, opts=child)
            for arn in NODE_MANAGED_POLICIES
        ]

        self.resources = []
        self.node_group_names = {}
        for spec in args.groups:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{spec.role}",
                name_prefix=f"{args.name}-{spec.role}-",
                # IMDSv2 only, one hop: pods cannot reach the node's credentials through IMDS.
                metadata_options={
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    "http_put_response_hop_limit": 1,
                },
                block_device_mappings=[{
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": spec.disk_size_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }],
                tag_specifications=[{"resource_type": "instance", "tags": {"Name": f"{args.name}-{spec.role}"}}],
                opts=child,
            )
            group = aws.eks.NodeGroup(
                f"{name}-{spec.role}",
                cluster_name=args.cluster_name,
                node_group_name=f"{args.name}-{spec.role}",
                node_role_arn=role.arn,
                subnet_ids=args.subnet_ids,
                ami_type=spec.ami_type,
                instance_types=spec.instance_types,
                capacity_type=spec.capacity_type,
                scaling_config={"min_size": spec.min_size, "desired_size": spec.desired_size, "max_size": spec.max_size},
                update_config={"max_unavailable_percentage": 33},
                launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                labels={NODE_ROLE_LABEL: spec.role, **spec.labels},
                taints=spec.taints,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=attachments,
                    # The cluster autoscaler owns the current size after creation.
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            )
            self.resources.append(group)
            self.node_group_names[spec.role] = group.node_group_name

        self.node_role_arn = role.arn
        self.register_outputs({"node_group_names": self.node_group_names, "node_role_arn": role.arn})


