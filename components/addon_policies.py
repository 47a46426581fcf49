"""IAM policies of the cluster add-ons, scoped to this cluster's resources by tag."""
from .iam_policy import allow, policy_document


def cluster_autoscaler_policy(cluster_name: str) -> str:
    return policy_document(
        allow([
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
            # Scaling a managed group up from zero reads its labels and taints from EKS.
            "eks:DescribeNodegroup",
        ], "*"),
        allow(
            ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            "*",
            Condition={"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
        ),
    )


def load_balancer_controller_policy(cluster_name: str) -> str:
    owned = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    requested = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    return policy_document(
        allow(["iam:CreateServiceLinkedRole"], "*",
              Condition={"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        allow([
            "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeCoipPools",
            "ec2:GetCoipPoolUsage", "ec2:DescribeRouteTables", "ec2:GetSecurityGroupsForVpc",
            "elasticloadbalancing:Describe*", "acm:ListCertificates", "acm:DescribeCertificate",
        ], "*"),
        allow(["ec2:CreateSecurityGroup"], "*"),
        allow(["ec2:CreateTags"], "arn:aws:ec2:*:*:security-group/*",
              Condition={"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **requested}),
        allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
               "ec2:CreateTags", "ec2:DeleteTags"], "arn:aws:ec2:*:*:security-group/*", Condition=owned),
        allow(["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], "*",
              Condition=requested),
        allow(["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
               "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
               "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
               "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates"], "*"),
        allow(["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"], [
            "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
            "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
            "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
        ]),
        allow(["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
               "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
               "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
               "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup"], "*",
              Condition=owned),
        allow(["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
              "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"),
    )
