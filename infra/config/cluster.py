from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import FieldError, Section
from .ec2_catalog import close_matches, instance_types

# Kubernetes minor versions in EKS standard support on the day these pins were chosen
# (2026-11-28): 1.34 until 2026-12-02, 1.35 until 2027-03-27. Extended support costs six times
# the control-plane price, so versions past standard support are refused, not defaulted to.
SUPPORTED_KUBERNETES_VERSIONS = ("1.34", "1.35")

# EKS managed add-on versions per Kubernetes minor. Pinned so a preview never drifts under a
# reviewer; refresh with `aws eks describe-addon-versions --kubernetes-version <v>` on upgrade.
ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.34": {
        "vpc-cni": "v1.20.4-eksbuild.1",
        "coredns": "v1.12.3-eksbuild.1",
        "kube-proxy": "v1.34.0-eksbuild.2",
        "aws-ebs-csi-driver": "v1.50.1-eksbuild.1",
        "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    },
    "1.35": {
        "vpc-cni": "v1.21.1-eksbuild.1",
        "coredns": "v1.12.4-eksbuild.1",
        "kube-proxy": "v1.35.0-eksbuild.2",
        "aws-ebs-csi-driver": "v1.53.0-eksbuild.1",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.1",
    },
}

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# GPU families the NVIDIA AL2023 AMI and the training images are validated on (A10G, L4, L40S).
GPU_INSTANCE_FAMILIES = ("g5", "g6", "g6e")


class NodeGroupConfig(Section):
    instance_types: list[str] = Field(min_length=1, description="EC2 instance types that exist (moto's EC2 snapshot), x86_64 (the AMIs are x86_64), first is preferred.")
    min_size: int = Field(ge=0, description="Floor of the autoscaled group.")
    desired_size: int = Field(ge=0, description="Size at creation; the cluster autoscaler owns it afterwards.")
    # EKS's UpdateNodegroupConfig/CreateNodegroup refuse maxSize 0 (scalingConfig.maxSize >= 1):
    # a group that should cost nothing when idle keeps maxSize >= 1 with minSize 0.
    max_size: int = Field(ge=1, description="Ceiling of the autoscaled group (EKS requires >= 1; minSize 0 lets it idle at zero nodes).")
    disk_size_gib: int = Field(ge=20, le=2000, description="Encrypted gp3 root volume per node.")
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(description="SPOT is refused outside dev.")

    @field_validator("instance_types")
    @classmethod
    def _exists(cls, v: list[str]) -> list[str]:
        known = instance_types()
        for t in v:
            if t not in known:
                near = close_matches(t)
                hint = f"; {t.split('.')[0]} types: {', '.join(near)}" if near else ""
                raise ValueError(f"must be EC2 instance types that exist (got {t}{hint})")
        archs = {known[t].architectures for t in v}
        if len(archs) > 1:
            raise ValueError(f"must share one CPU architecture: one AMI serves the group (got {', '.join(f'{t} {known[t].architectures[0]}' for t in v)})")
        return v

    @model_validator(mode="after")
    def _sizes(self):
        if self.max_size < self.min_size:
            raise FieldError("maxSize", f"must be >= minSize (got {self.max_size} < {self.min_size})")
        if not self.min_size <= self.desired_size <= self.max_size:
            raise FieldError(
                "desiredSize",
                f"must be between minSize and maxSize (got {self.desired_size}, allowed {self.min_size}..{self.max_size})",
            )
        return self


class GpuNodeGroupConfig(NodeGroupConfig):
    @field_validator("instance_types")
    @classmethod
    def _gpu_family(cls, v: list[str]) -> list[str]:
        for t in v:
            if t.split(".")[0] not in GPU_INSTANCE_FAMILIES:
                raise ValueError(f"must be GPU instance types of the {'/'.join(GPU_INSTANCE_FAMILIES)} families (got {t})")
        return v


# The AMI type of each group (components/node_groups.py via infra/program.py) and the one CPU
# architecture it boots: an arm64 instance type cannot launch an x86_64 AMI.
AMI_TYPES = {"system": "AL2023_x86_64_STANDARD", "gpu": "AL2023_x86_64_NVIDIA"}
AMI_ARCHITECTURE = {"AL2023_x86_64_STANDARD": "x86_64", "AL2023_x86_64_NVIDIA": "x86_64"}


class ClusterConfig(Section):
    version: str = Field(description="Kubernetes minor version of the EKS control plane.")
    endpoint_public_access: bool = Field(description="Public API endpoint; refused outside dev.")
    public_access_cidrs: list[IPv4Network] = Field(description="Who may reach the public endpoint (dev only).")
    admin_role_arns: list[str] = Field(description="IAM roles granted cluster-admin through EKS access entries.")
    log_retention_days: int = Field(ge=1, description="Retention of control-plane logs in CloudWatch.")
    addon_versions: dict[str, str] = Field(
        default_factory=dict, description="Overrides of the pinned EKS add-on versions, by add-on name."
    )
    system: NodeGroupConfig = Field(description="Managed node group for platform services.")
    gpu: GpuNodeGroupConfig = Field(description="Managed node group for training (NVIDIA AMI, tainted).")

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(f"must be a Kubernetes version in EKS standard support: {', '.join(SUPPORTED_KUBERNETES_VERSIONS)}")
        return v

    @field_validator("addon_versions")
    @classmethod
    def _addons(cls, v: dict[str, str]) -> dict[str, str]:
        known = ADDON_VERSIONS[SUPPORTED_KUBERNETES_VERSIONS[-1]].keys()
        for name in v:
            if name not in known:
                raise ValueError(f"has unknown add-on {name!r}; allowed: {', '.join(sorted(known))}")
        return v

    @field_validator("admin_role_arns")
    @classmethod
    def _arns(cls, v: list[str]) -> list[str]:
        for arn in v:
            if not arn.startswith("arn:aws:iam::") or ":role/" not in arn:
                raise ValueError(f"must hold IAM role ARNs like arn:aws:iam::<account>:role/<name> (got {arn})")
        return v

    @model_validator(mode="after")
    def _architecture(self):
        for role, ami in AMI_TYPES.items():
            arch = AMI_ARCHITECTURE[ami]
            for t in getattr(self, role).instance_types:
                if arch not in instance_types()[t].architectures:
                    raise FieldError(f"{role}.instanceTypes",
                                     f"must be {arch} instance types: the group boots the {ami} AMI (got {t}, {'/'.join(instance_types()[t].architectures)})")
        return self

    @property
    def addons(self) -> dict[str, str]:
        return {**ADDON_VERSIONS[self.version], **self.addon_versions}


