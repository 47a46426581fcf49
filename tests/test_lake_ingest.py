"""Kafka -> S3 lake in every stack's preview: the Firehose stream reads the contract's topic over
private IAM connectivity and writes the contract's layout, encrypted; the Glue table *is* the
contract; Athena enforces encrypted results and a scan limit; the producer and exporter roles
hold only what they need. The contract is read here with plain YAML, not the program's loader."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from infra.config import load_platform_config
from observability.metrics_contract import CLOUDWATCH, CONTRACT
from preview_run import of_type, one
from tools.stack_files import load_stack_config

REPO = Path(__file__).resolve().parent.parent
CONTRACT_FILE = yaml.safe_load((REPO / "contracts" / "clickstream.yaml").read_text())
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"


def config(stack):
    return load_platform_config(load_stack_config(stack), f"stacks/Pulumi.{stack}.yaml")


def policy(resources, name):
    return json.loads(one(resources, "aws:iam/rolePolicy:RolePolicy", name)["inputs"]["policy"])["Statement"]


def trust(resources, name):
    return json.loads(one(resources, "aws:iam/role:Role", name)["inputs"]["assumeRolePolicy"])["Statement"]


def resources_of(statements, action):
    out = []
    for s in statements:
        if action in s["Action"]:
            out += s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
    return out


def test_glue_table_columns_are_the_contract(stacks):
    expected = [(c["name"], c["glue"]) for c in CONTRACT_FILE["columns"]]
    partitions = [(p["name"], p["glue"]) for p in CONTRACT_FILE["partitions"]]
    assert len(expected) == 10 and partitions == [("dt", "string"), ("hour", "string")]
    for stack, resources in stacks.items():
        table = one(resources, "aws:glue/catalogTable:CatalogTable", "lake-catalog-raw-clickstream")["inputs"]
        assert [(c["name"], c["type"]) for c in table["storageDescriptor"]["columns"]] == expected, stack
        assert [(p["name"], p["type"]) for p in table["partitionKeys"]] == partitions
        raw = f"xyz-mlops-{stack}-raw-123456789012-us-east-1"
        assert table["storageDescriptor"]["location"] == f"s3://{raw}/{CONTRACT_FILE['prefix']}/"
        assert table["parameters"]["storage.location.template"] == f"s3://{raw}/{CONTRACT_FILE['prefix']}/dt=${{dt}}/hour=${{hour}}/"
        assert table["storageDescriptor"]["serDeInfo"]["serializationLibrary"].endswith("ParquetHiveSerDe")


def test_one_private_firehose_per_contract_writing_the_contract_layout_encrypted(stacks):
    for stack, resources in stacks.items():
        cfg = config(stack)
        streams = of_type(resources, FIREHOSE)
        assert [s["inputs"]["name"] for s in streams] == [f"xyz-mlops-{stack}-{c}" for c in cfg.ingest.contracts]
        fh = streams[0]["inputs"]
        source = fh["mskSourceConfiguration"]
        assert source["topicName"] == CONTRACT_FILE["topic"]
        assert source["authenticationConfiguration"]["connectivity"] == "PRIVATE"
        assert source["mskClusterArn"].startswith("arn:aws:kafka:us-east-1:123456789012:cluster/")
        s3 = fh["extendedS3Configuration"]
        assert s3["kmsKeyArn"].endswith(":key/data-lake-key")  # the lake's key, not a service default
        assert s3["prefix"] == f"{CONTRACT_FILE['prefix']}/dt=!{{partitionKeyFromQuery:dt}}/hour=!{{partitionKeyFromQuery:hour}}/"
        assert s3["errorOutputPrefix"].startswith(f"{CONTRACT_FILE['errorPrefix']}/!{{firehose:error-output-type}}/")
        assert (s3["bufferingSize"], s3["bufferingInterval"]) == (cfg.ingest.buffering_size_mib, cfg.ingest.buffering_interval_seconds)
        assert s3["bufferingSize"] >= 64  # Firehose's floor with format conversion
        assert s3["dynamicPartitioningConfiguration"]["enabled"] is True
        schema = s3["dataFormatConversionConfiguration"]["schemaConfiguration"]
        assert (schema["databaseName"], schema["tableName"]) == (f"xyz_mlops_{stack}_lake", "clickstream")
        assert s3["dataFormatConversionConfiguration"]["outputFormatConfiguration"]["serializer"] == {"parquetSerDe": {"compression": "SNAPPY"}}
        logging = s3["cloudwatchLoggingOptions"]
        group = one(resources, "aws:cloudwatch/logGroup:LogGroup", "lake-ingest-clickstream")["inputs"]
        assert logging["enabled"] is True and logging["logGroupName"] == group["name"]
        assert group["kmsKeyId"].endswith(":key/lake-ingest-logs-key")
        assert group["retentionInDays"] == cfg.ingest.log_retention_days


def test_dev_staging_prod_buffer_differently(stacks):
    sizes = {s: one(r, FIREHOSE)["inputs"]["extendedS3Configuration"]["bufferingInterval"] for s, r in stacks.items()}
    assert sizes["dev"] > sizes["prod"]  # dev trades latency for fewer, larger files


def test_partition_query_puts_an_event_in_its_own_utc_hour(stacks):
    query = next(p["parameterValue"] for p in one(stacks["prod"], FIREHOSE)["inputs"]["extendedS3Configuration"]
                 ["processingConfiguration"]["processors"][0]["parameters"] if p["parameterName"] == "MetadataExtractionQuery")
    assert shutil.which("jq"), "jq is not on PATH: run `make system-deps`"
    version = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()
    assert version == "jq-1.6"  # the only version Firehose offers

    def keys(ms):
        out = subprocess.run(["jq", "-c", query], input=json.dumps({"event_time": ms}), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    # 2026-11-29T23:59:59.999Z and the next millisecond (both sides of midnight UTC), and 13:00:00.000Z.
    assert keys(1795996799999) == {"dt": "2026-11-29", "hour": "23"}
    assert keys(1795996800000) == {"dt": "2026-11-30", "hour": "00"}
    assert keys(1795957200000) == {"dt": "2026-11-29", "hour": "13"}


def test_firehose_role_is_least_privilege_and_trust_is_conditioned(stacks):
    for resources in stacks.values():
        (statement,) = trust(resources, "lake-ingest-clickstream")
        assert statement["Principal"] == {"Service": ["firehose.amazonaws.com"]}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        statements = policy(resources, "lake-ingest-clickstream")
        actions = {a for s in statements for a in s["Action"]}
        assert not any(a.endswith("*") for a in actions)
        assert not {"kafka-cluster:WriteData", "s3:DeleteObject", "kafka-cluster:AlterGroup"} & actions
        assert [r.rsplit("/", 1)[1] for r in resources_of(statements, "kafka-cluster:ReadData")] == [CONTRACT_FILE["topic"]]
        puts = resources_of(statements, "s3:PutObject")
        assert sorted(p.split("/", 1)[1] for p in puts) == sorted([f"{CONTRACT_FILE['prefix']}/*", f"{CONTRACT_FILE['errorPrefix']}/*"])


def test_msk_offers_private_iam_connectivity_and_lets_only_firehose_connect(stacks):
    for resources in stacks.values():
        info = one(resources, "aws:msk/cluster:Cluster")["inputs"]["brokerNodeGroupInfo"]
        assert info["connectivityInfo"]["vpcConnectivity"] == {"clientAuthentication": {"sasl": {"iam": True}}}
        assert "publicAccess" not in info["connectivityInfo"]
        assert not info["instanceType"].startswith("kafka.t3.")  # no multi-VPC connectivity on t3
        (statement,) = json.loads(one(resources, "aws:msk/clusterPolicy:ClusterPolicy")["inputs"]["policy"])["Statement"]
        assert statement["Principal"] == {"Service": ["firehose.amazonaws.com"]}
        assert statement["Action"] == ["kafka:CreateVpcConnection"]


def test_athena_enforces_encrypted_results_and_a_scan_limit(stacks):
    for stack, resources in stacks.items():
        wg = one(resources, "aws:athena/workgroup:Workgroup")["inputs"]["configuration"]
        assert wg["enforceWorkgroupConfiguration"] is True
        assert wg["bytesScannedCutoffPerQuery"] == config(stack).ingest.athena_bytes_scanned_cutoff_mib * 2 ** 20
        enc = wg["resultConfiguration"]["encryptionConfiguration"]
        assert enc == {"encryptionOption": "SSE_KMS", "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/lake-catalog-results-key"}
        assert wg["resultConfiguration"]["outputLocation"] == f"s3://xyz-mlops-{stack}-athena-results-123456789012-us-east-1/"


def test_features_table_reads_each_models_prefix(stacks):
    for stack, resources in stacks.items():
        table = one(resources, "aws:glue/catalogTable:CatalogTable", "lake-catalog-features")["inputs"]
        features = f"s3://xyz-mlops-{stack}-features-123456789012-us-east-1/{config(stack).ingest.features_prefix}/"
        assert table["parameters"]["projection.model.type"] == "injected"
        assert table["parameters"]["storage.location.template"] == features + "${model}/"
        assert [p["name"] for p in table["partitionKeys"]] == ["model"]
        assert table["databaseName"] == f"xyz_mlops_{stack}_lake"


def test_producer_role_writes_the_lake_topics_only(stacks):
    for stack, resources in stacks.items():
        statements = policy(resources, "kafka-producers")
        actions = {a for s in statements for a in s["Action"]}
        assert actions == {"kafka-cluster:Connect", "kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"}
        assert [r.rsplit("/", 1)[1] for r in resources_of(statements, "kafka-cluster:WriteData")] == [CONTRACT_FILE["topic"]]
        (pods,) = trust(resources, "kafka-producers")
        accounts = config(stack).ingest.producers.service_accounts
        cluster = one(resources, "aws:eks/cluster:Cluster")["inputs"]["name"]
        assert pods["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        # Only the configured service account of this cluster (the session tags EKS sets).
        assert pods["Condition"] == {"StringEquals": {
            "aws:RequestTag/eks-cluster-name": cluster,
            "aws:RequestTag/kubernetes-namespace": accounts[0].namespace,
            "aws:RequestTag/kubernetes-service-account": accounts[0].service_account}}
        associations = [r["inputs"] for r in of_type(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
                        if r["name"].startswith("kafka-producers-")]
        assert len(associations) == len(accounts) == 1
        assert (associations[0]["namespace"], associations[0]["serviceAccount"]) == (accounts[0].namespace, accounts[0].service_account)


def _exporter_name(namespace: str, metric: str, statistic: str) -> str:
    # cloudwatch_exporter's CloudWatchCollector: toSnakeCase, then safeName (non [a-zA-Z0-9:_] -> _, runs of _ merged).
    def snake(s):
        return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()

    def safe(s):
        return re.sub(r"__+", "_", re.sub(r"[^a-zA-Z0-9:_]", "_", s))
    return safe(namespace.lower() + "_" + snake(metric)) + "_" + snake(statistic)


def test_exporter_reads_what_the_rules_read_with_a_read_only_identity(stacks):
    for stack, resources in stacks.items():
        release = one(resources, "kubernetes:helm.sh/v3:Release", "cloudwatch-exporter")["inputs"]
        assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == (
            "prometheus-cloudwatch-exporter", "0.28.1", "https://prometheus-community.github.io/helm-charts")
        exporter = yaml.safe_load(release["values"]["config"])
        names = {_exporter_name(m["aws_namespace"], m["aws_metric_name"], s) for m in exporter["metrics"] for s in m["aws_statistics"]}
        assert names == {m.name for m in CONTRACT if m.source == CLOUDWATCH}
        firehose = [m for m in exporter["metrics"] if m["aws_namespace"] == "AWS/Firehose"]
        assert len(firehose) == 3
        assert {tuple(m["aws_dimension_select"]["DeliveryStreamName"]) for m in firehose} == {(f"xyz-mlops-{stack}-clickstream",)}
        assert release["values"]["serviceMonitor"]["enabled"] is True
        assert {a for s in policy(resources, "lake-monitoring-exporter") for a in s["Action"]} == {
            "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"}
        association = one(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "lake-monitoring-exporter")["inputs"]
        assert (association["namespace"], association["serviceAccount"]) == ("monitoring", release["values"]["serviceAccount"]["name"])


def test_readme_day_cost_is_the_estimate_of_each_preview(stacks):
    from tools.cost import lake_day, load_prices
    text = (REPO / "README.md").read_text()
    prices = load_prices()
    for stack, resources in stacks.items():
        lines = lake_day(resources, prices)
        assert len(lines) == 5, stack
        rows = [line for line in text.splitlines() if line.startswith(f"| {stack} | ") and " GiB | " in line]
        assert len(rows) == 1, stack
        assert rows[0].endswith(f"| ${sum(usd for _, _, usd in lines):.2f} |"), rows[0]
        assert f"| {config(stack).ingest.events_per_day:,} |" in rows[0]
