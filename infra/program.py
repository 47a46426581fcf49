"""The platform, composed: config in, components wired to each other's outputs, stack outputs."""
import pulumi
import pulumi_aws as aws

from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.data_lake import DataLake, DataLakeArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.eks_managed_addons import NODE_LEVEL, WORKLOAD_LEVEL, EksManagedAddons, EksManagedAddonsArgs
from components.network import Network, NetworkArgs
from components.node_groups import GPU_TAINT, NodeGroups, NodeGroupsArgs, NodeGroupSpec, gpu_group_labels
from components.registry import ContainerRegistry, ContainerRegistryArgs

from .config import PlatformConfig
from .tagging import register_tagging


def build_platform(cfg: PlatformConfig) -> None:
    register_tagging(cfg.resource_tags)
    name = cfg.stack_name
    high_availability = cfg.environment != "dev"
    account_id = aws.get_caller_identity().account_id
    zones = sorted(aws.get_availability_zones(state="available").names)[: cfg.network.az_count]

    network = Network("network", NetworkArgs(
        name=name,
        region=cfg.region,
        cidr=cfg.network.cidr,
        availability_zones=zones,
        nat_per_az=cfg.network.nat_gateways == "perAz",
        flow_log_retention_days=cfg.network.flow_log_retention_days,
    ))

    cluster = EksCluster("cluster", EksClusterArgs(
        name=name,
        region=cfg.region,
        version=cfg.cluster.version,
        subnet_ids=network.private_subnet_ids,
        endpoint_public_access=cfg.cluster.endpoint_public_access,
        public_access_cidrs=[str(c) for c in cfg.cluster.public_access_cidrs],
        admin_role_arns=cfg.cluster.admin_role_arns,
        log_retention_days=cfg.cluster.log_retention_days,
    ))

    def managed_addons(name: str, which: tuple[str, ...], opts: pulumi.ResourceOptions | None = None) -> EksManagedAddons:
        versions = {a: cfg.cluster.addons[a] for a in which}
        return EksManagedAddons(name, EksManagedAddonsArgs(cluster.name, versions, high_availability), opts=opts)

    node_addons = managed_addons("eks-addons-node", NODE_LEVEL)
    system, gpu = cfg.cluster.system, cfg.cluster.gpu
    nodes = NodeGroups("nodes", NodeGroupsArgs(
        cluster_name=cluster.name,
        name=name,
        subnet_ids=network.private_subnet_ids,
        groups=[
            NodeGroupSpec(role="system", ami_type="AL2023_x86_64_STANDARD", instance_types=system.instance_types,
                          capacity_type=system.capacity_type, min_size=system.min_size, desired_size=system.desired_size,
                          max_size=system.max_size, disk_size_gib=system.disk_size_gib),
            NodeGroupSpec(role="gpu", ami_type="AL2023_x86_64_NVIDIA", instance_types=gpu.instance_types,
                          capacity_type=gpu.capacity_type, min_size=gpu.min_size, desired_size=gpu.desired_size,
                          max_size=gpu.max_size, disk_size_gib=gpu.disk_size_gib,
                          labels=gpu_group_labels(), taints=[GPU_TAINT]),
        ],
    ), opts=pulumi.ResourceOptions(depends_on=[node_addons]))
    managed_addons("eks-addons-workload", WORKLOAD_LEVEL, pulumi.ResourceOptions(depends_on=nodes.resources))

    k8s_opts = pulumi.ResourceOptions(provider=cluster.provider, depends_on=nodes.resources)
    ClusterAddons("cluster-addons", ClusterAddonsArgs(
        cluster_name=name,
        kubernetes_version=cfg.cluster.version,
        region=cfg.region,
        vpc_id=network.vpc_id,
        high_availability=high_availability,
    ), opts=k8s_opts)

    lake = DataLake("data-lake", DataLakeArgs(
        name=name,
        account_id=account_id,
        region=cfg.region,
        force_destroy=cfg.data_lake.force_destroy,
        raw_infrequent_access_days=cfg.data_lake.raw_infrequent_access_days,
        raw_glacier_days=cfg.data_lake.raw_glacier_days,
        noncurrent_version_expiration_days=cfg.data_lake.noncurrent_version_expiration_days,
        access_log_retention_days=cfg.data_lake.access_log_retention_days,
    ))
    registry = ContainerRegistry("registry", ContainerRegistryArgs(
        name=name,
        repositories=cfg.registry.repositories,
        keep_last_images=cfg.registry.keep_last_images,
        force_delete=cfg.data_lake.force_destroy,
    ))

    pulumi.export("environment", cfg.environment)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("clusterName", cluster.name)
    pulumi.export("clusterEndpoint", cluster.endpoint)
    pulumi.export("lakeBuckets", lake.bucket_names)
    pulumi.export("repositoryUrls", registry.repository_urls)
