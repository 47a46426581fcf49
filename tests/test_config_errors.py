"""Bad stack config: one line per problem naming file, key, value and what is allowed; exit 2."""
import pytest
import yaml

from infra.config import ConfigError, load_platform_config
from preview_run import run_preview
from tools.stack_files import load_stack_config

SOURCE = "stacks/Pulumi.dev.yaml"


def refused(raw: dict) -> list[str]:
    """The lines of the ConfigError that loading `raw` must raise."""
    with pytest.raises(ConfigError) as exc:
        load_platform_config(raw, SOURCE)
    return exc.value.lines


def errors(env: str = "dev", **overrides) -> list[str]:
    return refused({**load_stack_config(env), **{f"mlops:{k}": v for k, v in overrides.items()}})


def test_valid_stacks_load():
    for env in ("dev", "staging", "prod"):
        assert load_platform_config(load_stack_config(env), SOURCE).environment == env


@pytest.mark.parametrize("overrides, expected", [
    ({"cluster": '{"gpu": {"minSize": 2, "maxSize": 1}}'},
     "stacks/Pulumi.dev.yaml: mlops:cluster.gpu.maxSize must be >= minSize (got 1 < 2)"),
    # EKS refuses scalingConfig.maxSize 0 (CreateNodegroup: maxSize >= 1).
    ({"cluster": '{"gpu": {"minSize": 0, "desiredSize": 0, "maxSize": 0}}'},
     "stacks/Pulumi.dev.yaml: mlops:cluster.gpu.maxSize must be greater than or equal to 1 (got 0)"),
    ({"cluster": '{"gpu": {"desiredSize": 5}}'},
     "stacks/Pulumi.dev.yaml: mlops:cluster.gpu.desiredSize must be between minSize and maxSize (got 5, allowed 0..1)"),
    ({"cluster": '{"gpu": {"instanceTypes": ["m6i.large"]}}'},
     "stacks/Pulumi.dev.yaml: mlops:cluster.gpu.instanceTypes must be GPU instance types of the g5/g6/g6e families (got m6i.large)"),
    ({"cluster": '{"version": "1.29"}'},
     "stacks/Pulumi.dev.yaml: mlops:cluster.version must be a Kubernetes version in EKS standard support: 1.34, 1.35 (got 1.29)"),
    ({"cluster": '{"maxSzie": 3}'},
     "stacks/Pulumi.dev.yaml: mlops:cluster.maxSzie is not a known key (allowed: addonVersions, adminRoleArns, "
     "endpointPublicAccess, gpu, logRetentionDays, publicAccessCidrs, system, version)"),
    ({"network": '{"natGateways": "two"}'},
     "stacks/Pulumi.dev.yaml: mlops:network.natGateways must be 'single' or 'perAz' (got two)"),
    ({"network": '{"cidr": "10.0.0.0/8"}'},
     "stacks/Pulumi.dev.yaml: mlops:network.cidr must be a /16 to /20 network (got 10.0.0.0/8)"),
    ({"dataLake": '{"rawInfrequentAccessDays": 45, "rawGlacierDays": 70}'},
     "stacks/Pulumi.dev.yaml: mlops:dataLake.rawGlacierDays must be >= rawInfrequentAccessDays + 30, "
     "S3's minimum stay in Standard-IA (got 70 < 75)"),
    ({"streaming": '{"minInsyncReplicas": 3}'},
     "stacks/Pulumi.dev.yaml: mlops:streaming.minInsyncReplicas must be <= replicationFactor (got 3 > 2)"),
    ({"mlflow": '{"imageTag": "latest"}'},
     "stacks/Pulumi.dev.yaml: mlops:mlflow.imageTag must be a version tag (ECR tags are immutable here; "
     "`latest` is refused) (got latest)"),
    ({"environment": "qa"},
     "stacks/Pulumi.dev.yaml: mlops:environment must be one of dev, staging, prod (got qa)"),
    ({"colour": "blue"},
     "stacks/Pulumi.dev.yaml: mlops:colour is not a known key (allowed: airflow, cache, cluster, dataLake, deadMansSwitchUrl, "
     "delivery, environment, ingest, mlflow, name, network, observability, pipeline, registry, serving, streaming, tags, ticketWebhookUrl)"),
])
def test_bad_values_name_file_key_value_and_what_is_allowed(overrides, expected):
    assert expected in errors(**overrides)


@pytest.mark.parametrize("overrides, expected", [
    ({"cluster": '{"endpointPublicAccess": true}'},
     "mlops:cluster.endpointPublicAccess must be false outside dev: the API is private in prod (got true)"),
    ({"cluster": '{"gpu": {"capacityType": "SPOT"}}'},
     "mlops:cluster.gpu.capacityType must be ON_DEMAND outside dev: spot reclaims kill training runs (got SPOT)"),
    ({"dataLake": '{"forceDestroy": true}'},
     "mlops:dataLake.forceDestroy must be false outside dev: it lets destroy erase data (got true)"),
    ({"cache": '{"replicas": 0}'},
     "mlops:cache.replicas must be >= 1 outside dev: automatic failover needs a replica (got 0)"),
])
def test_production_safety_rules(overrides, expected):
    assert [f"{SOURCE}: {expected}"] == errors("prod", **overrides)


def test_pagerduty_token_needs_an_escalation_policy():
    assert refused({**load_stack_config("prod"), "pagerduty:token": "tok"}) == [f"{SOURCE}: mlops:observability.pagerdutyEscalationPolicy must name a PagerDuty "
                               "escalation policy ID when pagerduty:token is set (got nothing)"]


def test_every_problem_is_reported_at_once():
    lines = errors(cluster='{"gpu": {"minSize": 1, "maxSize": 0}, "version": "1.20"}', network='{"azCount": 9}')
    assert len(lines) == 3


def test_preview_of_bad_stack_file_exits_2_with_one_line_and_declares_nothing(tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    doc = yaml.safe_load((load_stack_config.__globals__["STACKS_DIR"] / "Pulumi.dev.yaml").read_text())
    doc["config"]["mlops:cluster"]["gpu"] = {"minSize": 1, "maxSize": 0}
    stack_file.write_text(yaml.safe_dump(doc))
    result = run_preview(tmp_path / "out", "dev", stack_file=stack_file)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{stack_file}: mlops:cluster.gpu.maxSize must be greater than or equal to 1 (got 0)"
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out" / "dev" / "resources.json").exists()


def test_preview_of_unparsable_stack_file_exits_2(tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  mlops:environment: dev\n   bad: [\n")
    result = run_preview(tmp_path / "out", "dev", stack_file=stack_file)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{stack_file}: line ") and "is not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("overrides, expected", [
    ({"ingest": '{"contracts": ["nosuch"]}'},
     "stacks/Pulumi.dev.yaml: mlops:ingest.contracts[0] must name a lake contract: no file contracts/nosuch.yaml (got nosuch)"),
    ({"streaming": '{"brokerInstanceType": "kafka.t3.small"}'},
     "stacks/Pulumi.dev.yaml: mlops:streaming.brokerInstanceType must not be a kafka.t3 type: Firehose reads MSK over "
     "multi-VPC private connectivity, which t3 brokers lack (got kafka.t3.small)"),
    # Firehose's bounds: Parquet conversion needs >= 64 MiB; 128 MiB is its maximum buffer.
    ({"ingest": '{"bufferingSizeMib": 63}'},
     "stacks/Pulumi.dev.yaml: mlops:ingest.bufferingSizeMib must be greater than or equal to 64 (got 63)"),
    ({"ingest": '{"bufferingSizeMib": 129}'},
     "stacks/Pulumi.dev.yaml: mlops:ingest.bufferingSizeMib must be less than or equal to 128 (got 129)"),
    ({"ingest": '{"bufferingIntervalSeconds": 901}'},
     "stacks/Pulumi.dev.yaml: mlops:ingest.bufferingIntervalSeconds must be less than or equal to 900 (got 901)"),
    ({"ingest": '{"athenaBytesScannedCutoffMib": 9}'},  # Athena's smallest per-query limit is 10 MB
     "stacks/Pulumi.dev.yaml: mlops:ingest.athenaBytesScannedCutoffMib must be greater than or equal to 10 (got 9)"),
    ({"ingest": '{"producers": {"principalArns": [], "serviceAccounts": []}}'},
     "stacks/Pulumi.dev.yaml: mlops:ingest.producers.serviceAccounts must name at least one service account when "
     "principalArns is empty: the producer role needs someone to trust (got {\"principalArns\": [], \"serviceAccounts\": []})"),
    ({"ingest": '{"producers": {"principalArns": ["arn:aws:iam::12:role/x"], "serviceAccounts": []}}'},
     "stacks/Pulumi.dev.yaml: mlops:ingest.producers.principalArns must hold IAM role or user ARNs such as "
     "arn:aws:iam::123456789012:role/shop-web (got 'arn:aws:iam::12:role/x')"),
])
def test_bad_ingest_values_name_the_key(overrides, expected):
    assert errors(**overrides) == [expected]


def test_ingest_edges_that_are_allowed():
    raw = {**load_stack_config("dev"), "mlops:ingest": '{"bufferingSizeMib": 128, "bufferingIntervalSeconds": 60, '
           '"athenaBytesScannedCutoffMib": 10, "producers": {"principalArns": ["arn:aws:iam::123456789012:role/shop-web"], '
           '"serviceAccounts": []}}'}
    ingest = load_platform_config(raw, SOURCE).ingest
    assert (ingest.buffering_size_mib, ingest.buffering_interval_seconds, ingest.athena_bytes_scanned_cutoff_mib) == (128, 60, 10)
