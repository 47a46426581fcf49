"""Values AWS or Kubernetes refuse at deploy are refused by the preview: node group sizes, EC2
instance types that do not exist or do not match the AMI's architecture (moto's EC2 snapshot),
the region's real zones, Kafka brokers versus replication, serving pods larger than any node,
a model URI the model's identity cannot read, and Secrets Manager names a destroy would hold."""
import pytest
import pulumi
import yaml

from infra.config import ConfigError, load_platform_config
from infra.config.ec2_catalog import instance_types, region_zones
from infra.models.fit import SIDECAR_MEMORY_MIB, SIDECAR_MILLICORES, fit_problems
from infra.models.loader import ModelFileError, load_models
from preview_run import REPO_ROOT, load_resources, of_type, run_preview
from tools.mocks import PlatformMocks
from tools.stack_files import load_stack_config

SOURCE = "stacks/Pulumi.dev.yaml"
RECSYS = yaml.safe_load((REPO_ROOT / "models" / "recsys.yaml").read_text())


def errors(env: str, **overrides) -> list[str]:
    raw = {**load_stack_config(env), **{f"mlops:{k}": v for k, v in overrides.items()}}
    with pytest.raises(ConfigError) as exc:
        load_platform_config(raw, SOURCE)
    return exc.value.lines


def loads(env: str, **overrides):
    raw = {**load_stack_config(env), **{f"mlops:{k}": v for k, v in overrides.items()}}
    return load_platform_config(raw, SOURCE)


@pytest.mark.parametrize("group, types, expected", [
    ("gpu", '["g5.3xlarge"]', "mlops:cluster.gpu.instanceTypes must be EC2 instance types that exist (got g5.3xlarge; g5 types: "),
    ("system", '["banana"]', "mlops:cluster.system.instanceTypes must be EC2 instance types that exist (got banana)"),
    ("system", '["m7g.2xlarge"]', "mlops:cluster.system.instanceTypes must be x86_64 instance types: the group boots the "
                                  "AL2023_x86_64_STANDARD AMI (got m7g.2xlarge, arm64)"),
    ("system", '["m6i.xlarge", "m7g.xlarge"]', "mlops:cluster.system.instanceTypes must share one CPU architecture"),
])
def test_instance_types_aws_does_not_have_or_the_ami_cannot_boot(group, types, expected):
    lines = errors("dev", cluster=f'{{"{group}": {{"instanceTypes": {types}}}}}')
    assert len(lines) == 1 and lines[0].startswith(f"{SOURCE}: {expected}"), lines


def test_instance_type_data_knows_the_shipped_types_and_eks_allocatable():
    known = instance_types()
    assert len(known) > 500
    # EKS's documented reservations for an m5.large (2 vCPU, 8 GiB, 29 pods): kube-reserved CPU
    # 60m + 10m, memory 255Mi + 11Mi x 29, plus 100Mi hard eviction.
    m5 = known["m5.large"]
    assert (m5.vcpus, m5.memory_mib, m5.max_pods) == (2, 8192, 29)
    assert m5.allocatable_millicores == 2000 - 70
    assert m5.allocatable_memory_mib == 8192 - (255 + 11 * 29) - 100
    assert known["m7g.2xlarge"].architectures == ("arm64",) and known["g5.2xlarge"].gpus == 1


def test_mocked_zones_are_the_regions_own():
    def zones(region: str) -> list[str]:
        args = pulumi.runtime.MockCallArgs("aws:index/getAvailabilityZones:getAvailabilityZones", {}, "")
        return PlatformMocks(region).call(args)["names"]
    assert zones("us-west-1") == ["us-west-1a", "us-west-1b"]
    assert len(zones("us-east-1")) == 6 and len(zones("eu-west-1")) == 3
    assert region_zones("xx-nowhere-1") == ()


def test_brokers_must_hold_the_replication_factor():
    lines = errors("staging", network='{"azCount": 2}')
    assert lines == [f"{SOURCE}: mlops:streaming.replicationFactor must be <= the 2 MSK brokers (network.azCount 2 x "
                     "streaming.brokersPerAz 1) (got 3)"]
    # Two zones with two brokers each hold three replicas.
    assert loads("staging", network='{"azCount": 2}', streaming='{"brokersPerAz": 2}').streaming.replication_factor == 3


def test_unknown_region_is_refused():
    raw = {**load_stack_config("dev"), "aws:region": "us-nowhere-1"}
    with pytest.raises(ConfigError) as exc:
        load_platform_config(raw, SOURCE)
    assert exc.value.lines[0].startswith(f"{SOURCE}: aws:region must be a region in the EC2 zone data")


def test_two_zone_region_with_three_zones_stops_the_preview(tmp_path):
    doc = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    doc["config"]["aws:region"] = "us-west-1"
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run_preview(tmp_path / "out", "dev", stack_file=path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"{path}: mlops:network.azCount must be <= 2, the availability zones of us-west-1 "
                                     "(us-west-1a, us-west-1b) (got 3)")


def _model(cpu: str = "2", memory: str = "2Gi", limit: str | None = None):
    from infra.models.schema import ModelSpec
    doc = {**RECSYS, "resources": {"cpu": cpu, "memory": memory, **({"limits": {"cpu": limit}} if limit else {})}}
    return ModelSpec.model_validate(doc)


def test_model_larger_than_every_node_is_refused_on_both_sides_of_the_edge():
    node = instance_types()["m6i.2xlarge"]  # prod's system nodes
    fits_cpu = f"{node.allocatable_millicores - SIDECAR_MILLICORES}m"
    over_cpu = f"{node.allocatable_millicores - SIDECAR_MILLICORES + 1}m"
    assert fit_problems([_model(cpu=fits_cpu)], "prod", ["m6i.2xlarge"]) == []
    [line] = fit_problems([_model(cpu=over_cpu)], "prod", ["m6i.2xlarge"])
    assert line.startswith(f"models/recsys.yaml: resources.cpu must fit a prod node") and line.endswith(f"(got {over_cpu})")
    fits_mem = f"{node.allocatable_memory_mib - SIDECAR_MEMORY_MIB}Mi"
    over_mem = f"{node.allocatable_memory_mib - SIDECAR_MEMORY_MIB + 1}Mi"
    assert fit_problems([_model(memory=fits_mem)], "prod", ["m6i.2xlarge"]) == []
    assert len(fit_problems([_model(memory=over_mem)], "prod", ["m6i.2xlarge"])) == 1
    # A CPU limit no node can give is refused too; the largest of several types decides.
    assert len(fit_problems([_model(limit="16")], "prod", ["m6i.2xlarge"])) == 1
    assert fit_problems([_model(cpu="8")], "prod", ["m6i.2xlarge", "m6i.4xlarge"]) == []


def test_sidecar_figures_match_what_the_preview_declares(stacks):
    from infra.models.schema import cpu_cores, memory_mib
    [sdep] = of_type(stacks["prod"], "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment")
    executor = sdep["inputs"]["spec"]["predictors"][0]["svcOrchSpec"]["resources"]["requests"]
    mesh = [r for r in of_type(stacks["prod"], "kubernetes:helm.sh/v3:Release") if r["inputs"].get("name") == "istiod"]
    assert len(mesh) == 1
    proxy = mesh[0]["inputs"]["values"]["global"]["proxy"]["resources"]["requests"]
    assert SIDECAR_MILLICORES == int((cpu_cores(executor["cpu"]) + cpu_cores(proxy["cpu"])) * 1000)
    assert SIDECAR_MEMORY_MIB == memory_mib(executor["memory"]) + memory_mib(proxy["memory"])


def test_prod_model_with_16_cpu_stops_the_preview(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "recsys.yaml").write_text(yaml.safe_dump({**RECSYS, "resources": {"cpu": "16", "memory": "2Gi"}}))
    result = run_preview(tmp_path / "out", "prod", env={"MLOPS_MODELS_DIR": str(models)})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("models/recsys.yaml: resources.cpu must fit a prod node") and line.endswith("(got 16)")


def test_model_uri_of_another_registered_model_is_refused(tmp_path):
    # recsys.yaml copied to fraud.yaml with only `name` changed.
    (tmp_path / "fraud.yaml").write_text(yaml.safe_dump({**RECSYS, "name": "fraud"}))
    with pytest.raises(ModelFileError) as exc:
        load_models(tmp_path, ["serving"])
    assert exc.value.lines == [
        f"{tmp_path / 'fraud.yaml'}: modelUri must load the model registered as fraud (models:/fraud@<alias> or "
        "models:/fraud/<version>): the model's role reads only models/fraud/ (got models:/recsys@champion)"]
    # The canary serves the same registered model's challenger: it cannot name another model.
    (tmp_path / "fraud.yaml").write_text(yaml.safe_dump({**RECSYS, "name": "fraud", "modelUri": "models:/fraud@champion",
                                                          "canary": {"modelUri": "models:/recsys@challenger", "trafficPercent": 5}}))
    with pytest.raises(ModelFileError) as exc:
        load_models(tmp_path, ["serving"])
    assert "canary.modelUri is not a known key" in exc.value.lines[0]
    (tmp_path / "fraud.yaml").write_text(yaml.safe_dump({**RECSYS, "name": "fraud", "modelUri": "models:/fraud@champion"}))
    assert [m.name for m in load_models(tmp_path, ["serving"])] == ["fraud"]


def test_disposable_dev_frees_secret_names_and_the_others_keep_a_recovery_window(stacks):
    for stack, window in (("dev", 0), ("staging", 30), ("prod", 30)):
        secrets = of_type(stacks[stack], "aws:secretsmanager/secret:Secret")
        assert len(secrets) == 3
        assert [s["inputs"]["recoveryWindowInDays"] for s in secrets] == [window] * 3


def test_node_group_sizes_eks_accepts(stacks):
    for stack in ("dev", "staging", "prod"):
        groups = of_type(stacks[stack], "aws:eks/nodeGroup:NodeGroup")
        assert len(groups) == 2
        for g in groups:
            scaling = g["inputs"]["scalingConfig"]
            assert scaling["maxSize"] >= 1 and scaling["minSize"] <= scaling["desiredSize"] <= scaling["maxSize"]


@pytest.mark.parametrize("overrides, expected", [
    ({"streaming": '{"brokerInstanceType": "kafka.m7g.huge"}'}, "mlops:streaming.brokerInstanceType must name an existing instance size (m7g.huge is not an EC2 instance type"),
    ({"cache": '{"nodeType": "cache.banana"}'}, "mlops:cache.nodeType must name an existing instance size (banana is not an EC2 instance type)"),
    ({"mlflow": '{"database": {"instanceClass": "db.r7g.banana"}}'}, "mlops:mlflow.database.instanceClass must name an existing instance size (r7g.banana"),
    ({"airflow": '{"database": {"instanceClass": "r7g.large"}}'}, "mlops:airflow.database.instanceClass must start with db."),
])
def test_managed_service_node_types_that_do_not_exist(overrides, expected):
    lines = errors("dev", **overrides)
    assert len(lines) == 1 and lines[0].startswith(f"{SOURCE}: {expected}"), lines


def test_instance_types_must_be_offered_in_the_region():
    raw = {**load_stack_config("dev"), "aws:region": "us-west-1", "mlops:network": '{"azCount": 2}'}
    with pytest.raises(ConfigError) as exc:
        load_platform_config(raw, SOURCE)
    assert exc.value.lines == [f"{SOURCE}: mlops:cluster.gpu.instanceTypes must be offered by EC2 in us-west-1 (got g5.xlarge, g6.xlarge)"]
    raw["aws:region"] = "us-west-2"
    assert load_platform_config(raw, SOURCE).network.az_count == 2
