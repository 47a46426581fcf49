"""Security groups for managed data services: reachable from the EKS nodes, on one port, and
from nowhere else."""
import pulumi
import pulumi_aws as aws


def cluster_only_security_group(name: str, description: str, vpc_id: pulumi.Input[str],
                                cluster_security_group_id: pulumi.Input[str], ports: list[int],
                                parent: pulumi.Resource) -> aws.ec2.SecurityGroup:
    # Managed node groups carry the cluster security group: admitting it admits the nodes
    # (and so the pods) and nothing else in the VPC.
    group = aws.ec2.SecurityGroup(name, description=description, vpc_id=vpc_id, opts=pulumi.ResourceOptions(parent=parent))
    for port in ports:
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-{port}",
            security_group_id=group.id,
            referenced_security_group_id=cluster_security_group_id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{description}: port {port} from the EKS cluster",
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return group
