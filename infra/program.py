"""The platform, composed: config in, components wired to each other's outputs, stack outputs."""
import pulumi
import pulumi_aws as aws

from components.airflow import NAMESPACE as AIRFLOW_NAMESPACE
from components.airflow import TASK_POD_TEMPLATE_CONFIGMAP
from components.airflow import WORKER_SA as AIRFLOW_WORKER_SA
from components.airflow import Airflow, AirflowArgs, PipelineLocations
from components.cache import Cache, CacheArgs
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.data_lake import DataLake, DataLakeArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.kafka_producers import KafkaProducerRole, KafkaProducerRoleArgs, ServiceAccount
from components.lake_catalog import LakeCatalog, LakeCatalogArgs, RawTable, TableColumn
from components.lake_ingest import IngestStream, LakeIngest, LakeIngestArgs
from components.lake_monitoring import LakeMonitoring, LakeMonitoringArgs
from components.eks_managed_addons import NODE_LEVEL, WORKLOAD_LEVEL, EksManagedAddons, EksManagedAddonsArgs
from components.github_oidc import GithubOidc, GithubOidcArgs
from components.mlflow import NAMESPACE as MLFLOW_NAMESPACE
from components.mlflow import MlflowTracking, MlflowTrackingArgs
from components.model_serving import ModelPlatform, ModelServing, ModelServingArgs
from components.network import Network, NetworkArgs
from components.network_policies import NetworkIsolation, NetworkIsolationArgs
from components.observability import PROMETHEUS_PORT, PROMETHEUS_URL, PUSHGATEWAY_POD, PUSHGATEWAY_PORT, PUSHGATEWAY_URL
from components.observability import ModelAlerting, Observability, ObservabilityArgs
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

from .config import ConfigError, PlatformConfig
from .config.cluster import AMI_TYPES
from .config.data_services import DatabaseConfig
from .lake_contract import load_contract
from .models import load_models_or_exit
from .models.fit import fit_or_exit
from .observability_rules import platform_rule_files
from .tagging import register_tagging


# MLflow users of the platform's clients (basic auth): the pipeline writes, model servers read.
MLFLOW_PIPELINE_USER = "pipeline"
MLFLOW_MODEL_USER = "model-server"


def build_platform(cfg: PlatformConfig) -> None:
    # Every model file is validated before the first resource is declared: a bad file
    # stops the run whole, it never half-applies.
    models = load_models_or_exit(cfg.registry.repositories)
    fit_or_exit(models, cfg.environment, cfg.cluster.system.instance_types)
    register_tagging(cfg.resource_tags)
    # The Pulumi stack, not the environment, names everything: a stacks/Pulumi.qa.yaml copied
    # from staging (environment: staging) gets its own buckets, cluster and databases.
    name = cfg.physical_prefix(pulumi.get_stack())
    high_availability = cfg.environment != "dev"
    # A disposable stack (forceDestroy, dev only) frees its secrets' names on destroy; the others
    # keep a deleted secret recoverable for Secrets Manager's maximum of 30 days.
    secret_recovery_window_days = 0 if cfg.data_lake.force_destroy else 30
    account_id = aws.get_caller_identity().account_id
    available = sorted(aws.get_availability_zones(state="available").names)
    if len(available) < cfg.network.az_count:
        raise ConfigError([f"mlops:network.azCount must be <= {len(available)}, the availability zones of "
                           f"{cfg.region} ({', '.join(available)}) (got {cfg.network.az_count})"])
    zones = available[: cfg.network.az_count]

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
            NodeGroupSpec(role="system", ami_type=AMI_TYPES["system"], instance_types=system.instance_types,
                          capacity_type=system.capacity_type, min_size=system.min_size, desired_size=system.desired_size,
                          max_size=system.max_size, disk_size_gib=system.disk_size_gib),
            NodeGroupSpec(role="gpu", ami_type=AMI_TYPES["gpu"], instance_types=gpu.instance_types,
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
        secret_recovery_window_days=secret_recovery_window_days,
        **data_plane,
    ))

    def database(service: str, db: DatabaseConfig) -> PostgresDatabaseArgs:
        return PostgresDatabaseArgs(
            name=f"{name}-{service}", database=service, username=f"{service}_admin",
            instance_class=db.instance_class, storage_gib=db.storage_gib, max_storage_gib=db.max_storage_gib,
            backup_retention_days=db.backup_retention_days, multi_az=db.multi_az,
            deletion_protection=db.deletion_protection, secret_recovery_window_days=secret_recovery_window_days,
            **data_plane,
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
        pipeline_image=registry.repository_urls["pipeline"].apply(lambda url: f"{url}:{cfg.pipeline.image_tag}"),
        # The pipeline role writes the features zone only (components/pipeline_namespace.py): a
        # run's working files go there too, beside its features.
        pipeline_locations=PipelineLocations(
            raw_lake=lake.bucket_names["raw"].apply(lambda b: f"s3://{b}"),
            features=lake.bucket_names["features"].apply(lambda b: f"s3://{b}/features"),
            artifact_root=mlflow.artifact_bucket_name.apply(lambda b: f"s3://{b}"),
            work=lake.bucket_names["features"].apply(lambda b: f"s3://{b}/runs"),
        ),
        prometheus_url=PROMETHEUS_URL,
        pushgateway_url=PUSHGATEWAY_URL,
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
        models=[ModelAlerting(m.name, m.name, m.alert_team, m.slo.availability, m.slo.p99_latency_ms / 1000)
                for m in models],
        k8s_opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[*nodes.resources, cluster_addons]),
    ))

    # The roles .github/workflows assume (images, deploy, release); see README "Delivery".
    delivery = cfg.delivery
    github = GithubOidc("github", GithubOidcArgs(
        name=name,
        account_id=account_id,
        region=cfg.region,
        repository=delivery.repository,
        existing_provider_arn=delivery.existing_oidc_provider_arn,
        images_branch=delivery.images_branch,
        deploy_environment=delivery.deploy_environment,
        release_environment=delivery.release_environment,
        # The names ContainerRegistry gives its repositories: <name>/<repository>.
        ecr_repository_arns=[f"arn:aws:ecr:{cfg.region}:{account_id}:repository/{name}/{r}"
                             for r in cfg.registry.repositories],
        cluster_name=cluster.name,
        mlflow_namespace=MLFLOW_NAMESPACE,
        mlflow_service="mlflow",
        monitoring_namespace=MONITORING_NAMESPACE,
        pushgateway_pod=PUSHGATEWAY_POD,
        # Its Roles live in MLflow's and the monitoring namespace.
        k8s_opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[*nodes.resources, mlflow, observability]),
    ))
    pulumi.export("githubOidcProviderArn", github.provider_arn)
    pulumi.export("githubRoleArns", github.role_arns)
    build_ingest(cfg, name, account_id, lake, streaming, cluster.name,
                 pulumi.ResourceOptions(provider=cluster.provider, depends_on=[*nodes.resources, observability]))

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
        prometheus_port=PROMETHEUS_PORT,
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


def build_ingest(cfg: PlatformConfig, name: str, account_id: str, lake: DataLake, streaming: Streaming,
                 eks_cluster_name: pulumi.Input[str], k8s_opts: pulumi.ResourceOptions) -> None:
    """Kafka -> raw zone (Firehose per lake contract), the Glue catalog and Athena, the producer
    role and the exporter of lag and delivery health."""
    ingest = cfg.ingest
    contracts = [load_contract(c) for c in ingest.contracts]
    catalog = LakeCatalog("lake-catalog", LakeCatalogArgs(
        name=name, account_id=account_id, region=cfg.region,
        raw_bucket=lake.bucket_names["raw"], features_bucket=lake.bucket_names["features"],
        raw_tables=[RawTable(c.name, c.prefix, [TableColumn(col.name, col.glue_type, col.description) for col in c.columns])
                    for c in contracts],
        features_prefix=ingest.features_prefix,
        features_columns=[TableColumn(col.name, col.glue) for col in ingest.features_columns],
        athena_bytes_scanned_cutoff_mib=ingest.athena_bytes_scanned_cutoff_mib,
        athena_results_retention_days=ingest.athena_results_retention_days,
        force_destroy=cfg.data_lake.force_destroy,
        noncurrent_version_expiration_days=cfg.data_lake.noncurrent_version_expiration_days,
        access_log_bucket=lake.access_log_bucket,
    ))
    firehose = LakeIngest("lake-ingest", LakeIngestArgs(
        name=name, account_id=account_id, region=cfg.region,
        cluster_arn=streaming.cluster_arn, raw_bucket_arn=lake.bucket_arns["raw"], lake_key_arn=lake.key_arn,
        database_name=catalog.database_name,
        streams=[IngestStream(c.name, c.topic, c.prefix, c.error_prefix, catalog.table_names[c.name]) for c in contracts],
        buffering_size_mib=ingest.buffering_size_mib, buffering_interval_seconds=ingest.buffering_interval_seconds,
        log_retention_days=ingest.log_retention_days,
        events_per_day=ingest.events_per_day, bytes_per_event=ingest.bytes_per_event,
    # Firehose checks its access to the cluster on creation: the cluster policy comes first.
    ), opts=pulumi.ResourceOptions(depends_on=[streaming]))
    producers = KafkaProducerRole("kafka-producers", KafkaProducerRoleArgs(
        name=name, cluster_name=eks_cluster_name, msk_cluster_arn=streaming.cluster_arn,
        topics=[c.topic for c in contracts],
        principal_arns=ingest.producers.principal_arns,
        service_accounts=[ServiceAccount(sa.namespace, sa.service_account) for sa in ingest.producers.service_accounts],
    ))
    LakeMonitoring("lake-monitoring", LakeMonitoringArgs(
        region=cfg.region, namespace="monitoring", cluster_name=eks_cluster_name,
        msk_cluster_name=streaming.cluster_name, delivery_stream_names=list(firehose.stream_names.values()),
        k8s_opts=k8s_opts,
    ))
    pulumi.export("lakeDatabase", catalog.database_name)
    pulumi.export("athenaWorkgroup", catalog.workgroup_name)
    pulumi.export("clickstreamProducerRoleArn", producers.role_arn)


def _secret(value) -> pulumi.Output[str] | None:
    return None if value is None else pulumi.Output.secret(value.get_secret_value())
