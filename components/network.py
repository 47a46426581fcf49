"""The platform's VPC: public subnets for load balancers, private subnets for everything else."""
from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_aws as aws

from .iam_policy import allow, output_policy, policy_document
from .kms import log_group_key


@dataclass(frozen=True)
class NetworkArgs:
    name: str
    region: str
    cidr: IPv4Network
    availability_zones: list[str]
    nat_per_az: bool
    flow_log_retention_days: int
    account_id: str


def subnet_plan(cidr: IPv4Network, zones: int) -> tuple[list[IPv4Network], list[IPv4Network]]:
    """Private subnets take a quarter of the VPC each: the VPC CNI gives every pod a VPC address,
    so pods, not nodes, size them. Public subnets only hold load balancers and NAT gateways and
    share the last quarter in /6-smaller blocks."""
    quarters = list(cidr.subnets(prefixlen_diff=2))
    private = quarters[:zones]
    public = list(quarters[3].subnets(prefixlen_diff=4))[:zones]
    return private, public


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        private_cidrs, public_cidrs = subnet_plan(args.cidr, len(args.availability_zones))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.cidr),
            enable_dns_hostnames=True,  # EKS private endpoint and VPC endpoints resolve through it
            enable_dns_support=True,
            tags={"Name": args.name},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": args.name}, opts=child)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{args.name}-public"},
            opts=child,
        )

        public_subnets, private_subnets, nat_gateways, private_rts = [], [], [], []
        for i, zone in enumerate(args.availability_zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(public_cidrs[i]),
                availability_zone=zone,
                # Nodes never get public IPs; only load balancers live here.
                map_public_ip_on_launch=False,
                tags={"Name": f"{args.name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", subnet_id=public.id, route_table_id=public_rt.id, opts=child)
            public_subnets.append(public)

            if args.nat_per_az or i == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={"Name": f"{args.name}-nat-{zone}"}, opts=child)
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        allocation_id=eip.id,
                        subnet_id=public.id,
                        tags={"Name": f"{args.name}-nat-{zone}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )

            private = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(private_cidrs[i]),
                availability_zone=zone,
                tags={"Name": f"{args.name}-private-{zone}", "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            # With a single NAT every zone egresses through zone 0: cheap, but losing that zone
            # cuts egress for all (why staging and prod use one per zone).
            nat = nat_gateways[-1] if args.nat_per_az else nat_gateways[0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags={"Name": f"{args.name}-private-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", subnet_id=private.id, route_table_id=rt.id, opts=child)
            private_subnets.append(private)
            private_rts.append(rt)

        # Lake traffic stays on the AWS network and skips NAT data-processing charges.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{args.name}-s3"},
            opts=child,
        )

        self._flow_logs(name, args, vpc, child)

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
            "nat_gateway_count": len(nat_gateways),
        })

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, child: pulumi.ResourceOptions) -> None:
        group_name = f"/mlops/{args.name}/vpc-flow-logs"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=group_name,
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=log_group_key(f"{name}-flow-logs", group_name, args.region, self).arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            # Only this account's flow logs may use the role (confused-deputy guard, VPC user
            # guide "IAM role for publishing flow logs to CloudWatch Logs").
            assume_role_policy=policy_document({
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{args.region}:{args.account_id}:vpc-flow-log/*"},
                },
            }),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=output_policy(
                lambda arn: [allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], f"{arn}:*")],
                log_group.arn,
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )
