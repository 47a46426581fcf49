"""EC2 facts the stack config is checked against: which instance types exist, their CPU
architecture, vCPUs, memory and pod capacity, and the zones of each region.

Source: the DescribeInstanceTypes and DescribeInstanceTypeOfferings snapshots that moto ships
(moto/ec2/resources/, refreshed by moto's maintainers from the EC2 API with each release; the
pinned moto in requirements.txt fixes the snapshot). botocore's EC2 model has an InstanceType enum
too, but names only: no architecture, vCPU, memory or network limits, which the checks below need.
The JSON is read directly, without importing moto (its import pulls in every service model).
"""
import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path


@dataclass(frozen=True)
class InstanceType:
    name: str
    architectures: tuple[str, ...]  # e.g. ("x86_64",), ("arm64",)
    vcpus: int
    memory_mib: int
    gpus: int
    max_enis: int
    ipv4_per_eni: int

    @property
    def max_pods(self) -> int:
        """Pods the VPC CNI fits on one node (no prefix delegation, which this platform does not
        enable): ENIs x (IPv4 addresses per ENI - 1) + 2, the formula behind amazon-eks-ami's
        eni-max-pods.txt, which the AL2023 node bootstrap (nodeadm) passes to the kubelet."""
        return self.max_enis * (self.ipv4_per_eni - 1) + 2

    @property
    def allocatable_millicores(self) -> int:
        """vCPU left to pods after the kube-reserved share the EKS AMI sets: 6% of the first core,
        1% of the second, 0.5% of the third and fourth, 0.25% of every further core
        (amazon-eks-ami, nodeadm kubelet config)."""
        steps = ((1, 60), (1, 10), (2, 5))
        cores, reserved = self.vcpus, 0.0
        for count, per_core in steps:
            used = min(cores, count)
            reserved += used * per_core
            cores -= used
        reserved += cores * 2.5
        return self.vcpus * 1000 - int(round(reserved))

    @property
    def allocatable_memory_mib(self) -> int:
        """Memory left to pods: minus kube-reserved (255 MiB + 11 MiB per pod of max_pods) and the
        kubelet's hard eviction threshold of 100 MiB (amazon-eks-ami, nodeadm kubelet config)."""
        return self.memory_mib - (255 + 11 * self.max_pods) - 100


def _resources() -> Path:
    spec = find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("moto is not installed: it ships the EC2 instance-type data (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "ec2" / "resources"


def _load(relative: str):
    with gzip.open(_resources() / relative, "rt") as handle:
        return json.load(handle)


@cache
def instance_types() -> dict[str, InstanceType]:
    out = {}
    for name, info in _load("instance_types.json.gz").items():
        network = info.get("NetworkInfo", {})
        out[name] = InstanceType(
            name=name,
            architectures=tuple(info.get("ProcessorInfo", {}).get("SupportedArchitectures", ())),
            vcpus=int(info.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
            memory_mib=int(info.get("MemoryInfo", {}).get("SizeInMiB", 0)),
            gpus=sum(int(g.get("Count", 0)) for g in info.get("GpuInfo", {}).get("Gpus", [])),
            max_enis=int(network.get("MaximumNetworkInterfaces", 1)),
            ipv4_per_eni=int(network.get("Ipv4AddressesPerInterface", 1)),
        )
    return out


def _zone_locations(location_type: str, region: str) -> tuple[str, ...]:
    try:
        offerings = _load(f"instance_type_offerings/{location_type}/{region}.json.gz")
    except FileNotFoundError:
        return ()
    return tuple(sorted({o["Location"] for o in offerings}))


@cache
def region_zones(region: str) -> tuple[str, ...]:
    """Availability-zone names where the region offers EC2 instances; () for a region the
    snapshot does not know."""
    return _zone_locations("availability-zone", region)


@cache
def region_zone_ids(region: str) -> tuple[str, ...]:
    """The same zones by zone ID (use1-az1 ...); () for a region the snapshot does not know."""
    return _zone_locations("availability-zone-id", region)


@cache
def offered_in(region: str) -> frozenset[str]:
    """Instance types EC2 offers in the region (DescribeInstanceTypeOfferings, location type region)."""
    try:
        return frozenset(o["InstanceType"] for o in _load(f"instance_type_offerings/region/{region}.json.gz"))
    except FileNotFoundError:
        return frozenset()


def managed_type_problem(value: str, prefix: str) -> str | None:
    """RDS (db.), ElastiCache (cache.) and MSK (kafka.) node types run on an EC2 type of the same
    name; no package ships those services' own type lists, so the EC2 type behind one must at least
    exist (db.r7g.banana, kafka.m7g.huge are refused). Returns the problem, or None."""
    if not value.startswith(prefix):
        return f"must start with {prefix}"
    base = value[len(prefix):]
    if base not in instance_types():
        near = close_matches(base)
        shown = ", ".join(n if n == "..." else prefix + n for n in near)
        return f"must name an existing instance size ({base} is not an EC2 instance type{'; like: ' + shown if near else ''})"
    return None


def close_matches(name: str, limit: int = 3) -> list[str]:
    """Existing types of the same family, to suggest in an error (g5.3xlarge -> g5.2xlarge, g5.4xlarge)."""
    family = name.split(".")[0]
    same = sorted(t for t in instance_types() if t.split(".")[0] == family)
    return same[:limit] if len(same) <= limit else [*same[:limit], "..."]
