"""Per-environment defaults, merged under each stack file before validation.

dev is cheap and disposable; staging mirrors prod's topology (HA, private API) at a smaller
size so that what is tested there is what runs in prod; prod is sized for the seed's targets
(10K requests/s, 3 to 30 serving pods, 99.9% availability).
Every default is listed per environment in the README's configuration reference.
"""
from copy import deepcopy
from typing import Any

_COMMON: dict[str, Any] = {
    "name": "xyz-mlops",
    "network": {"cidr": "10.40.0.0/16", "azCount": 3},
    "cluster": {
        "version": "1.35",
        "publicAccessCidrs": [],
        "adminRoleArns": [],
        "addonVersions": {},
    },
    "dataLake": {
        # The chapter's lake policy: raw events are hot for a month, then kept cheaply.
        "rawInfrequentAccessDays": 30,
        "rawGlacierDays": 90,
    },
    "registry": {"repositories": ["serving", "mlflow", "pipeline"]},
    "streaming": {
        "kafkaVersion": "3.9.x",
        "topics": [
            # Clickstream feeds the lake and features; 24 partitions let 24 consumers share it.
            {"name": "clickstream.events", "partitions": 24, "retentionHours": 168},
            {"name": "clickstream.events.dlq", "partitions": 6, "retentionHours": 336},
            {"name": "recommendations.served", "partitions": 12, "retentionHours": 72},
        ],
    },
    "cache": {"engineVersion": "8.0"},
    "mlflow": {"imageTag": "3.17.2"},
    # The pipeline image's release tag (`images` workflow, release-tag input) the DAGs' pods run.
    "pipeline": {"imageTag": "1.0.0"},
    "airflow": {
        # This repository: its dags/ holds the training, drift and rollback DAGs (a fork sets its own URL).
        "dagsRepository": "https://github.com/xyz-shopsmart/xyz-mlops.git",
        "dagsBranch": "main",
        "dagsPath": "dags",
    },
    "serving": {"ingressScheme": "internal"},
    "observability": {"prometheusRetentionDays": 30},
    # The roles of .github/workflows: images from main, `pulumi up` and releases from GitHub
    # environments (prod's with required reviewers), never from a pull request.
    "delivery": {"repository": "xyz-shopsmart/mlops-platform", "imagesBranch": "main"},
    "ingest": {
        "contracts": ["clickstream"],
        # Seed scale: 5 million users; assumed 10 events per user a day in prod (README, cost).
        # 350 bytes: one JSON event of contracts/clickstream.yaml with every field set.
        "bytesPerEvent": 350,
        "featuresPrefix": "features",
        # Placeholder schema of the pipeline's feature files until the pipeline publishes its own
        # contract: the keys it joins on and the counts it derives from the clickstream.
        "featuresColumns": [
            {"name": "customer_id", "glue": "string"}, {"name": "sku", "glue": "string"},
            {"name": "views_7d", "glue": "bigint"}, {"name": "add_to_cart_7d", "glue": "bigint"},
            {"name": "purchases_30d", "glue": "bigint"}, {"name": "last_event_time", "glue": "timestamp"},
        ],
        # The in-cluster pattern by default; the web tier's own roles go in principalArns.
        "producers": {"principalArns": [], "serviceAccounts": [{"namespace": "shop", "serviceAccount": "clickstream-producer"}]},
    },
}

_BY_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "dev": {
        "delivery": {"deployEnvironment": "dev", "releaseEnvironment": "dev-release"},
        "network": {"natGateways": "single", "flowLogRetentionDays": 7},
        "cluster": {
            "endpointPublicAccess": True,
            "logRetentionDays": 7,
            # 4 vCPU: a serving pod (2 vCPU model + executor + sidecar) does not fit the 1930m a
            # t3.large leaves to pods (infra/models/fit.py).
            "system": {"instanceTypes": ["t3.xlarge"], "minSize": 2, "desiredSize": 2, "maxSize": 4,
                       "diskSizeGib": 50, "capacityType": "ON_DEMAND"},
            # Scales from zero: a GPU costs nothing until a training pod asks for one.
            "gpu": {"instanceTypes": ["g5.xlarge", "g6.xlarge"], "minSize": 0, "desiredSize": 0, "maxSize": 1,
                    "diskSizeGib": 100, "capacityType": "SPOT"},
        },
        "dataLake": {"noncurrentVersionExpirationDays": 7, "accessLogRetentionDays": 30, "forceDestroy": True},
        "registry": {"keepLastImages": 10},
        # kafka.m7g.large, not t3.small: MSK's multi-VPC private connectivity, Firehose's private
        # way in, is not available on t3.small brokers.
        "streaming": {"brokerInstanceType": "kafka.m7g.large", "brokersPerAz": 1, "brokerVolumeGib": 50, "replicationFactor": 2, "minInsyncReplicas": 1, "logRetentionDays": 7},
        "cache": {"nodeType": "cache.t4g.small", "replicas": 0, "snapshotRetentionDays": 0},
        "mlflow": {"replicas": 1, "database": {"instanceClass": "db.t4g.small", "storageGib": 20, "maxStorageGib": 50, "backupRetentionDays": 1, "multiAz": False, "deletionProtection": False}},
        "airflow": {"schedulerReplicas": 1, "database": {"instanceClass": "db.t4g.small", "storageGib": 20, "maxStorageGib": 50, "backupRetentionDays": 1, "multiAz": False, "deletionProtection": False}},
        "serving": {"gatewayReplicas": 1},
        "observability": {"prometheusReplicas": 1, "prometheusStorageGib": 50, "alertmanagerReplicas": 1},
        "ingest": {"bufferingSizeMib": 64, "bufferingIntervalSeconds": 900, "logRetentionDays": 7, "eventsPerDay": 50_000,
                   "athenaBytesScannedCutoffMib": 1024, "athenaResultsRetentionDays": 7},
    },
    "staging": {
        "delivery": {"deployEnvironment": "staging", "releaseEnvironment": "staging-release"},
        "network": {"natGateways": "perAz", "flowLogRetentionDays": 30},
        "cluster": {
            "endpointPublicAccess": False,
            "logRetentionDays": 30,
            "system": {"instanceTypes": ["m6i.xlarge"], "minSize": 3, "desiredSize": 3, "maxSize": 6,
                       "diskSizeGib": 80, "capacityType": "ON_DEMAND"},
            "gpu": {"instanceTypes": ["g5.2xlarge"], "minSize": 0, "desiredSize": 0, "maxSize": 2,
                    "diskSizeGib": 200, "capacityType": "ON_DEMAND"},
        },
        "dataLake": {"noncurrentVersionExpirationDays": 30, "accessLogRetentionDays": 90, "forceDestroy": False},
        "registry": {"keepLastImages": 30},
        "streaming": {"brokerInstanceType": "kafka.m7g.large", "brokersPerAz": 1, "brokerVolumeGib": 200, "replicationFactor": 3, "minInsyncReplicas": 2, "logRetentionDays": 30},
        "cache": {"nodeType": "cache.r7g.large", "replicas": 1, "snapshotRetentionDays": 3},
        "mlflow": {"replicas": 2, "database": {"instanceClass": "db.t4g.medium", "storageGib": 50, "maxStorageGib": 200, "backupRetentionDays": 7, "multiAz": True, "deletionProtection": True}},
        "airflow": {"schedulerReplicas": 2, "database": {"instanceClass": "db.t4g.medium", "storageGib": 50, "maxStorageGib": 200, "backupRetentionDays": 7, "multiAz": True, "deletionProtection": True}},
        "serving": {"gatewayReplicas": 2},
        "observability": {"prometheusReplicas": 2, "prometheusStorageGib": 100, "alertmanagerReplicas": 3},
        "ingest": {"bufferingSizeMib": 64, "bufferingIntervalSeconds": 300, "logRetentionDays": 30, "eventsPerDay": 500_000,
                   "athenaBytesScannedCutoffMib": 10240, "athenaResultsRetentionDays": 30},
    },
    "prod": {
        "delivery": {"deployEnvironment": "prod", "releaseEnvironment": "prod-release"},
        "network": {"natGateways": "perAz", "flowLogRetentionDays": 365},
        "cluster": {
            "endpointPublicAccess": False,
            "logRetentionDays": 365,
            # 30 serving pods at 2 vCPU plus the platform services fit in 12 nodes of 8 vCPU.
            "system": {"instanceTypes": ["m6i.2xlarge"], "minSize": 3, "desiredSize": 4, "maxSize": 12,
                       "diskSizeGib": 100, "capacityType": "ON_DEMAND"},
            # One warm GPU node: on-demand GPU capacity is often short on scale-up, and the
            # drift-triggered retrain should not wait for it.
            "gpu": {"instanceTypes": ["g5.2xlarge"], "minSize": 1, "desiredSize": 1, "maxSize": 4,
                    "diskSizeGib": 200, "capacityType": "ON_DEMAND"},
        },
        "dataLake": {"noncurrentVersionExpirationDays": 90, "accessLogRetentionDays": 365, "forceDestroy": False},
        "registry": {"keepLastImages": 100},
        "streaming": {"brokerInstanceType": "kafka.m7g.large", "brokersPerAz": 1, "brokerVolumeGib": 1000, "replicationFactor": 3, "minInsyncReplicas": 2, "logRetentionDays": 365},
        "cache": {"nodeType": "cache.r7g.large", "replicas": 2, "snapshotRetentionDays": 7},
        "mlflow": {"replicas": 2, "database": {"instanceClass": "db.r7g.large", "storageGib": 100, "maxStorageGib": 1000, "backupRetentionDays": 30, "multiAz": True, "deletionProtection": True}},
        "airflow": {"schedulerReplicas": 2, "database": {"instanceClass": "db.r7g.large", "storageGib": 100, "maxStorageGib": 1000, "backupRetentionDays": 30, "multiAz": True, "deletionProtection": True}},
        "serving": {"gatewayReplicas": 3},
        "observability": {"prometheusReplicas": 2, "prometheusRetentionDays": 90, "prometheusStorageGib": 500, "alertmanagerReplicas": 3},
        # Larger Parquet files in prod: fewer objects for Athena to open per partition.
        "ingest": {"bufferingSizeMib": 128, "bufferingIntervalSeconds": 300, "logRetentionDays": 365, "eventsPerDay": 50_000_000,
                   "athenaBytesScannedCutoffMib": 51200, "athenaResultsRetentionDays": 30},
    },
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Dicts merge key by key; lists of named entries (`streaming.topics`) merge by `name`, so a
    stack adds a topic or changes one without restating (or losing) the defaults; any other value
    (other lists included) in `override` replaces."""
    merged = deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        elif _named_entries(value) and _named_entries(merged.get(key)):
            by_name = {entry["name"]: entry for entry in deepcopy(merged[key])}
            for entry in value:
                by_name[entry["name"]] = deep_merge(by_name.get(entry["name"], {}), entry)
            merged[key] = list(by_name.values())
        else:
            merged[key] = deepcopy(value)
    return merged


def _named_entries(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in value)


def defaults_for(environment: str) -> dict[str, Any]:
    return deep_merge(_COMMON, _BY_ENVIRONMENT.get(environment, {}))
