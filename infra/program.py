"""The platform, composed: config in, components wired to each other's outputs, stack outputs."""
import pulumi
import pulumi_aws as aws

from components.airflow import NAMESPACE as AIRFLOW_NAMESPACE
from components.airflow import TASK_POD_TEMPLATE_CONFIGMAP
from components.airflow import WORKER_SA as AIRFLOW_WORKER_SA
from components.airflow import Airflow, AirflowArgs
from components.cache import Cache, CacheArgs
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.data_lake import DataLake, DataLakeArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.eks_managed_addons import NODE_LEVEL, WORKLOAD_LEVEL, EksManagedAddons, EksManagedAddonsArgs
from components.mlflow import MlflowTracking, MlflowTrackingArgs
from components.model_serving import ModelPlatform, ModelServing, ModelServingArgs
from components.network import Network, NetworkArgs
from components.network_policies import NetworkIsolation, NetworkIsolationArgs
from components.observability import PUSHGATEWAY_PORT, ModelAlerting, Observability, ObservabilityArgs
from components.pipeline_namespace import PipelineNamespace, PipelineNamespaceArgs
from components.node_groups import NodeGroups, NodeGroupsArgs, NodeGroupSpec
from components.node_placement import GPU_NODE_LABELS, GPU_TAINT
from components.model_deployment import EXECUTOR_PORT, MODEL_PORT
from components.observability import NAMESPACE as MONITORING_NAMESPACE
from components.postgres import PORT as POSTGRES_PORT
from components.postgres import PostgresDatabaseArgs
from components.serving_mesh import GATEWAY_NAMESPACE, ISTIO_NAMESPACE, SELDON_NAMESPACE
from components.streaming import IAM_TLS_PORT as KAFKA_PORT
from components.registry import ContainerRegistry, ContainerRegistryArgs
from components.streaming import Streaming, StreamingArgs, Topic

from .config import PlatformConfig
from .config.data_services import DatabaseConfig
from .models import load_models_or_exit
from .observability_rules import platform_rule_files
from .tagging import register_tagging


# MLflow users of the platform's clients (basic auth): the pipeline writes, model servers read.
MLFLOW_PIPELINE_USER = "pipeline"
MLFLOW_MODEL_USER = "model-server"


def build_platform(cfg: PlatformConfig) -> None:
    # Every model file is validated before the first resource is declared: a bad file
    # stops the run whole, it never half-applies.
    models = load_models_or_exit(cfg.registry.repositories)
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
        account_id=account_id,
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
                          labels=GPU_NODE_LABELS, taints=[GPU_TAINT]),
        ],
    ), opts=pulumi.ResourceOptions(depends_on=[node_addons]))
    managed_addons("eks-addons-workload", WORKLOAD_LEVEL, pulumi.ResourceOptions(depends_on=nodes.resources))

    k8s_opts = pulumi.ResourceOptions(provider=cluster.provider, depends_on=nodes.resources)
    cluster_addons = ClusterAddons("cluster-addons", ClusterAddonsArgs(
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

    data_plane = dict(
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        cluster_security_group_id=cluster.security_group_id,
    )
    streaming_cfg = cfg.streaming
    streaming = Streaming("streaming", StreamingArgs(
        name=name,
        zone_count=len(zones),
        kafka_version=streaming_cfg.kafka_version,
        broker_instance_type=streaming_cfg.broker_instance_type,
        brokers_per_az=streaming_cfg.brokers_per_az,
        broker_volume_gib=streaming_cfg.broker_volume_gib,
        replication_factor=streaming_cfg.replication_factor,
        min_insync_replicas=streaming_cfg.min_insync_replicas,
        log_retention_days=streaming_cfg.log_retention_days,
        topics=[Topic(t.name, t.partitions, t.retention_hours) for t in streaming_cfg.topics],
        region=cfg.region,
        **data_plane,
    ))
    cache = Cache("cache", CacheArgs(
        name=name,
        engine_version=cfg.cache.engine_version,
        node_type=cfg.cache.node_type,
        replicas=cfg.cache.replicas,
        snapshot_retention_days=cfg.cache.snapshot_retention_days,
        **data_plane,
    ))

    def database(service: str, db: DatabaseConfig) -> PostgresDatabaseArgs:
        return PostgresDatabaseArgs(
            name=f"{name}-{service}", database=service, username=f"{service}_admin",
            instance_class=db.instance_class, storage_gib=db.storage_gib, max_storage_gib=db.max_storage_gib,
            backup_retention_days=db.backup_retention_days, multi_az=db.multi_az,
            deletion_protection=db.deletion_protection, **data_plane,
        )

    mlflow = MlflowTracking("mlflow", MlflowTrackingArgs(
        name=name,
        account_id=account_id,
        region=cfg.region,
        cluster_name=cluster.name,
        image=registry.repository_urls["mlflow"].apply(lambda url: f"{url}:{cfg.mlflow.image_tag}"),
        replicas=cfg.mlflow.replicas,
        high_availability=high_availability,
        force_destroy=cfg.data_lake.force_destroy,
        noncurrent_version_expiration_days=cfg.data_lake.noncurrent_version_expiration_days,
        access_log_bucket=lake.access_log_bucket,
        database=database("mlflow", cfg.mlflow.database),
        k8s_opts=k8s_opts,
        client_users=[MLFLOW_PIPELINE_USER, MLFLOW_MODEL_USER],
    ))
    airflow = Airflow("airflow", AirflowArgs(
        name=name,
        account_id=account_id,
        region=cfg.region,
        cluster_name=cluster.name,
        high_availability=high_availability,
        scheduler_replicas=cfg.airflow.scheduler_replicas,
        dags_repository=cfg.airflow.dags_repository,
        dags_branch=cfg.airflow.dags_branch,
        dags_path=cfg.airflow.dags_path,
        force_destroy=cfg.data_lake.force_destroy,
        noncurrent_version_expiration_days=cfg.data_lake.noncurrent_version_expiration_days,
        access_log_bucket=lake.access_log_bucket,
        mlflow_tracking_uri=mlflow.tracking_uri,
        database=database("airflow", cfg.airflow.database),
        k8s_opts=k8s_opts,
    ))
    # KubernetesPodOperator tasks: their own namespace, identity and MLflow user.
    pipeline = PipelineNamespace("pipeline", PipelineNamespaceArgs(
        cluster_name=cluster.name,
        region=cfg.region,
        lake_bucket_arns=lake.bucket_arns,
        lake_key_arn=lake.key_arn,
        mlflow_bucket_arn=mlflow.artifact_bucket_arn,
        mlflow_key_arn=mlflow.artifact_key_arn,
        mlflow_username=MLFLOW_PIPELINE_USER,
        mlflow_password=mlflow.client_passwords[MLFLOW_PIPELINE_USER],
        launcher_namespace=AIRFLOW_NAMESPACE,
        launcher_service_accounts=[AIRFLOW_WORKER_SA],
        task_pod_template_configmap=TASK_POD_TEMPLATE_CONFIGMAP,
        # The template's ConfigMap goes into Airflow's namespace.
        k8s_opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[airflow])),
    ))

    obs = cfg.observability
    observability = Observability("observability", ObservabilityArgs(
        name=name,
        environment=cfg.environment,
        storage_class=cluster_addons.storage_class,
        prometheus_replicas=obs.prometheus_replicas,
        prometheus_retention_days=obs.prometheus_retention_days,
        prometheus_storage_gib=obs.prometheus_storage_gib,
        alertmanager_replicas=obs.alertmanager_replicas,
        paging_enabled=cfg.paging_enabled,
        pagerduty_escalation_policy=obs.pagerduty_escalation_policy,
        ticket_webhook_url=_secret(cfg.ticket_webhook_url),
        dead_mans_switch_url=_secret(cfg.dead_mans_switch_url),
        platform_rules=platform_rule_files(),
        models=[ModelAlerting(m.name, m.name, m.alerting.team or m.team, m.slo.availability, m.slo.p99_latency_ms / 1000)
                for m in models],
        k8s_opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[*nodes.resources, cluster_addons]),
    ))

    pulumi.export("environment", cfg.environment)
    pulumi.export("kafkaBootstrapBrokers", streaming.bootstrap_brokers)
    pulumi.export("cacheHost", cache.host)
    pulumi.export("mlflowTrackingUri", mlflow.tracking_uri)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("clusterName", cluster.name)
    pulumi.export("clusterEndpoint", cluster.endpoint)
    pulumi.export("lakeBuckets", lake.bucket_names)
    pulumi.export("repositoryUrls", registry.repository_urls)

    # Istio, the Seldon operator and one ModelDeployment per models/<name>.yaml.
    serving = ModelServing("serving", ModelServingArgs(
        environment=cfg.environment,
        ingress_scheme=cfg.serving.ingress_scheme,
        gateway_replicas=cfg.serving.gateway_replicas,
        models=models,
        repository_urls=registry.repository_urls,
        platform=ModelPlatform(
            cluster_name=cluster.name,
            region=cfg.region,
            mlflow_tracking_uri=mlflow.tracking_uri,
            artifact_bucket_arn=mlflow.artifact_bucket_arn,
            artifact_key_arn=mlflow.artifact_key_arn,
            cache_host=cache.host,
            cache_port=cache.port,
            cache_auth_token=cache.auth_token,
            mlflow_username=MLFLOW_MODEL_USER,
            mlflow_password=mlflow.client_passwords[MLFLOW_MODEL_USER],
        ),
        certificate_arn=cfg.serving.certificate_arn,
    # The PodMonitor CRD comes with kube-prometheus-stack: serve after it is installed.
    ), opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[*nodes.resources, cluster_addons, observability]))

    # Default-deny and the named allows in every namespace the platform owns.
    NetworkIsolation("network-isolation", NetworkIsolationArgs(
        vpc_cidr=str(cfg.network.cidr),
        mlflow_namespace=mlflow.namespace,
        mlflow_port=mlflow.port,
        airflow_namespace=AIRFLOW_NAMESPACE,
        pipeline_namespace=pipeline.namespace,
        monitoring_namespace=MONITORING_NAMESPACE,
        pushgateway_port=PUSHGATEWAY_PORT,
        istio_namespace=ISTIO_NAMESPACE,
        gateway_namespace=GATEWAY_NAMESPACE,
        seldon_namespace=SELDON_NAMESPACE,
        model_namespaces=sorted(m.name for m in models),
        model_ports=[EXECUTOR_PORT, MODEL_PORT],
        postgres_port=POSTGRES_PORT,
        cache_port=cache.port,
        kafka_port=KAFKA_PORT,
    ), opts=pulumi.ResourceOptions(provider=cluster.provider,
                                   depends_on=[mlflow, airflow, pipeline, observability, serving]))


def _secret(value) -> pulumi.Output[str] | None:
    return None if value is None else pulumi.Output.secret(value.get_secret_value())
