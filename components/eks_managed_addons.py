"""EKS managed add-ons, pinned: networking, DNS, EBS volumes and the Pod Identity agent."""
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .pod_identity import PodIdentityRole, PodIdentityRoleArgs

# Installed before nodes join, so the first nodes come up with the pinned CNI and agent.
NODE_LEVEL = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
# These run as pods and need nodes to schedule on: install them with depends_on the nodes.
WORKLOAD_LEVEL = ("coredns", "aws-ebs-csi-driver")


@dataclass(frozen=True)
class EksManagedAddonsArgs:
    cluster_name: pulumi.Input[str]
    # The add-ons this instance installs, by name, with their pinned versions.
    versions: dict[str, str]
    high_availability: bool


class EksManagedAddons(pulumi.ComponentResource):
    def __init__(self, name: str, args: EksManagedAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:EksManagedAddons", name, None, opts)
        depends: list[pulumi.Resource] = []
        if "aws-ebs-csi-driver" in args.versions:
            depends.append(PodIdentityRole(
                f"{name}-ebs-csi",
                PodIdentityRoleArgs(
                    cluster_name=args.cluster_name,
                    namespace="kube-system",
                    service_account="ebs-csi-controller-sa",
                    managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            ))
        self.addons: dict[str, aws.eks.Addon] = {}
        for addon, version in sorted(args.versions.items()):
            self.addons[addon] = aws.eks.Addon(
                f"{name}-{addon}",
                cluster_name=args.cluster_name,
                addon_name=addon,
                addon_version=version,
                # The platform owns these add-ons' settings; drift made by hand is reverted.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                configuration_values=_configuration(addon, args.high_availability),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
        self.register_outputs({"versions": {k: a.addon_version for k, a in self.addons.items()}})


def _configuration(addon: str, high_availability: bool) -> str | None:
    if addon == "vpc-cni":
        # The CNI's network policy agent enforces the platform's NetworkPolicies (off by
        # default: without it every NetworkPolicy is accepted and ignored). A string, as the
        # add-on's configuration schema wants it.
        return '{"enableNetworkPolicy": "true"}'
    if addon == "coredns":
        # Every lookup of Redis, MSK and MLflow goes through CoreDNS: keep a replica per zone.
        return '{"replicaCount": %d}' % (3 if high_availability else 2)
    return None
