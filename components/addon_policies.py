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


def load_balancer_controller_policy(cluster_name: str, region: str, vpc_id: str) -> str:
    """The AWS Load Balancer Controller's policy, following the controller's published
    docs/install/iam_policy.json (v2.14, the app version of chart 1.14.0) statement by
    statement: creation needs the elbv2.k8s.aws/cluster request tag, changes and deletion need
    it on the resource, and the tag itself cannot be moved by a tagging call. One deviation:
    upstream grants ec2:Authorize/RevokeSecurityGroupIngress on every security group
    unconditioned, because the controller writes the NLB's backend rules into security groups it
    did not create (the cluster's); here those two are limited to groups in this cluster's VPC.
    WAF and Shield statements are left out: the chart runs with them disabled."""
    tag = "elbv2.k8s.aws/cluster"
    owned = {"Null": {f"aws:ResourceTag/{tag}": "false"}}
    requested = {"Null": {f"aws:RequestTag/{tag}": "false"}}
    # Tag changes on resources the controller owns, never of its own cluster tag.
    retag = {"Null": {f"aws:RequestTag/{tag}": "true", f"aws:ResourceTag/{tag}": "false"}}
    security_groups = "arn:aws:ec2:*:*:security-group/*"
    balancers = [
        "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
        "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
        "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
    ]
    return policy_document(
        allow(["iam:CreateServiceLinkedRole"], "*",
              Condition={"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        allow([
            "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:DescribeCoipPools",
            "ec2:GetCoipPoolUsage", "ec2:DescribeRouteTables", "ec2:GetSecurityGroupsForVpc",
            "ec2:DescribeIpamPools", "elasticloadbalancing:Describe*", "acm:ListCertificates", "acm:DescribeCertificate",
        ], "*"),
        # The NLB's backend rules go into the cluster's security group, which the controller
        # does not own: scoped to this VPC's groups instead of upstream's "*".
        allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], security_groups,
              Condition={"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{region}:*:vpc/{vpc_id}"}}),
        allow(["ec2:CreateSecurityGroup"], "*"),
        allow(["ec2:CreateTags"], security_groups,
              Condition={"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **requested}),
        allow(["ec2:CreateTags", "ec2:DeleteTags"], security_groups, Condition=retag),
        allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
              "*", Condition=owned),
        allow(["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], "*",
              Condition=requested),
        allow(["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
               "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"], "*"),
        allow(["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"], balancers, Condition=retag),
        allow(["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"], [
            "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
            "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
            "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
            "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
        ]),
        allow(["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
               "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
               "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
               "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
               "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyCapacityReservation",
               "elasticloadbalancing:ModifyIpPools"], "*", Condition=owned),
        # Tagging at creation: only inside the create call that carries the cluster tag.
        allow(["elasticloadbalancing:AddTags"], balancers, Condition={
            "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
            **requested}),
        allow(["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
              "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"),
        allow(["elasticloadbalancing:ModifyListener",
               "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
               "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities"], "*"),
    )
