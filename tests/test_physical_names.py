"""AWS's naming rules on the names the program declares (tools/physical_names.py): unique where
AWS needs it, within each service's length and characters, the stack name in every one; a
violation stops the preview with exit 2 and one line naming the config key. Limits are the AWS
API references' (S3 63, IAM role 64, RDS 63, ElastiCache replication group 40, MSK 64, node
group 63, EKS cluster 100)."""
import shutil
import subprocess

import pytest
import yaml

from preview_run import REPO_ROOT, STACKS, load_resources, of_type, run_preview
from tools.physical_names import RULES, problems

SOURCES = {"mlops:name": "xyz-mlops", "the stack name": "dev"}


def rec(typ: str, logical: str, /, **inputs) -> dict:
    return {"type": typ, "name": logical, "urn": f"urn:{typ}:{logical}", "inputs": inputs}


def test_two_kms_aliases_with_one_name_are_refused():
    # The shipped stacks' fault: the MLflow database key and artifact key both took alias/<prefix>-mlflow.
    records = [rec("aws:kms/alias:Alias", "mlflow-db-key", name="alias/xyz-mlops-dev-mlflow"),
               rec("aws:kms/alias:Alias", "mlflow-artifacts-key", name="alias/xyz-mlops-dev-mlflow")]
    assert problems(records, "dev", SOURCES) == [
        "mlops:name xyz-mlops gives KMS alias name alias/xyz-mlops-dev-mlflow to 2 resources "
        "(mlflow-artifacts-key, mlflow-db-key); AWS refuses the second"]
    assert problems(records[:1], "dev", SOURCES) == []


@pytest.mark.parametrize("typ, prop, limit", [
    ("aws:s3/bucket:Bucket", "bucket", 63),
    ("aws:rds/instance:Instance", "identifier", 63),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "replicationGroupId", 40),
    ("aws:msk/cluster:Cluster", "clusterName", 64),
    ("aws:eks/nodeGroup:NodeGroup", "nodeGroupName", 63),
    ("aws:eks/cluster:Cluster", "name", 100),
    ("aws:secretsmanager/secret:Secret", "name", 512),
])
def test_length_limits_on_both_sides_of_the_edge(typ, prop, limit):
    def named(length: int) -> dict:
        value = ("xyz-mlops-dev-" + "a" * limit)[:length]
        return rec(typ, "r", **{"clusterName": "c", prop: value})
    assert problems([named(limit)], "dev", SOURCES) == []
    [line] = problems([named(limit + 1)], "dev", SOURCES)
    assert line.startswith("mlops:name xyz-mlops gives ") and f"({limit + 1} characters)" in line


@pytest.mark.parametrize("typ, prop, bad", [
    ("aws:s3/bucket:Bucket", "bucket", "xyz-mlops-dev-Raw"),          # uppercase
    ("aws:s3/bucket:Bucket", "bucket", "xyz-mlops-dev..raw"),         # adjacent dots
    ("aws:s3/bucket:Bucket", "bucket", "xyz-mlops-dev-raw-"),         # ends with '-'
    ("aws:rds/instance:Instance", "identifier", "xyz-mlops-dev--mlflow"),  # '--'
    ("aws:elasticache/replicationGroup:ReplicationGroup", "replicationGroupId", "1xyz-mlops-dev"),  # digit first
    ("aws:kms/alias:Alias", "name", "xyz-mlops-dev-lake"),            # no alias/ prefix
    ("aws:ecr/repository:Repository", "name", "xyz-mlops-dev/Serving"),
])
def test_characters_aws_refuses(typ, prop, bad):
    [line] = problems([rec(typ, "r", **{prop: bad})], "dev", SOURCES)
    assert bad in line and "names are" in line


def test_autonamed_iam_role_counts_pulumis_suffix():
    # Pulumi appends "-" and 7 characters: a logical name of 56 is the longest a 64-character role takes.
    assert problems([rec("aws:iam/role:Role", "m" * 56)], "dev", SOURCES) == []
    [line] = problems([rec("aws:iam/role:Role", "m" * 57)], "dev", SOURCES)
    assert "IAM role name" in line and "65 characters" in line


def test_rds_identifiers_collide_case_insensitively():
    records = [rec("aws:rds/instance:Instance", "a", identifier="xyz-mlops-dev-db"),
               rec("aws:rds/instance:Instance", "b", identifier="XYZ-mlops-dev-db")]
    assert len([line for line in problems(records, "dev", SOURCES) if "to 2 resources" in line]) == 1


def test_node_groups_are_unique_per_cluster_only():
    a = rec("aws:eks/nodeGroup:NodeGroup", "a", nodeGroupName="xyz-mlops-dev-gpu", clusterName="one")
    b = rec("aws:eks/nodeGroup:NodeGroup", "b", nodeGroupName="xyz-mlops-dev-gpu", clusterName="two")
    assert problems([a, b], "dev", SOURCES) == []
    assert len(problems([a, {**b, "inputs": {**b["inputs"], "clusterName": "one"}}], "dev", SOURCES)) == 1


def test_a_name_without_the_stack_is_refused():
    [line] = problems([rec("aws:secretsmanager/secret:Secret", "s", name="xyz-mlops/cache")], "dev", SOURCES)
    assert "without the stack name dev" in line


def test_shipped_stacks_pass_and_every_rule_is_exercised(stacks):
    for stack in STACKS:
        assert problems(stacks[stack], stack, {"the stack name": stack}) == []
        checked = [r for r in stacks[stack] if r["type"] in RULES]
        # Every named type of the program is covered by a rule (a new one fails here first).
        assert len(checked) >= 40
    aliases = [r["inputs"]["name"] for r in of_type(stacks["prod"], "aws:kms/alias:Alias")]
    # No two aliases alike (the duplicate MLflow alias was the fault); every key named by at most one.
    targets = [r["inputs"]["targetKeyId"] for r in of_type(stacks["prod"], "aws:kms/alias:Alias")]
    assert len(aliases) >= 9 and len(set(aliases)) == len(aliases) and len(set(targets)) == len(targets)


def _write_stack(tmp_path, source: str, changes: dict) -> "Path":  # noqa: F821
    doc = yaml.safe_load((REPO_ROOT / "stacks" / f"Pulumi.{source}.yaml").read_text())
    doc["config"].update(changes)
    path = tmp_path / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_long_name_gets_a_bucket_within_63_characters(tmp_path, stacks):
    # xyzshopsmart-mlops-p-staging-airflow-logs-123456789012-us-east-1 is 64 characters.
    path = _write_stack(tmp_path, "staging", {"mlops:name": "xyzshopsmart-mlops-p"})
    result = run_preview(tmp_path / "out", "staging", stack_file=path)
    assert result.returncode == 0, result.stderr
    buckets = {r["name"]: r["inputs"]["bucket"] for r in of_type(load_resources(tmp_path / "out", "staging"), "aws:s3/bucket:Bucket")}
    assert len(buckets) == len(of_type(stacks["staging"], "aws:s3/bucket:Bucket")) >= 6
    assert buckets["airflow-logs"] == "xyzshopsmart-mlops-p-staging-airflow-logs-123456789012-use1"
    assert all(3 <= len(b) <= 63 and "-staging-" in b for b in buckets.values())
    # A name that fits keeps the region spelled out.
    assert buckets["data-lake-raw"] == "xyzshopsmart-mlops-p-staging-raw-123456789012-us-east-1"


def test_stack_copied_from_staging_shares_no_name_with_staging(tmp_path, stacks):
    path = tmp_path / "Pulumi.qa.yaml"
    shutil.copy(REPO_ROOT / "stacks" / "Pulumi.staging.yaml", path)
    result = run_preview(tmp_path / "out", "qa", stack_file=path)
    assert result.returncode == 0, result.stderr

    def names(records):
        return {(r["type"], r["inputs"][RULES[r["type"]].prop]) for r in records
                if r["type"] in RULES and RULES[r["type"]].prop in r["inputs"] and RULES[r["type"]].scope != "cluster"}
    qa, staging = names(load_resources(tmp_path / "out", "qa")), names(stacks["staging"])
    assert len(qa) >= 30 and len(qa) == len(staging)
    assert qa & staging == set()


def test_name_aws_refuses_stops_the_preview_with_one_line_naming_the_key(tmp_path):
    # 24 + "-" + 16 + "-cache" = 47 > ElastiCache's 40.
    path = _write_stack(tmp_path, "staging", {"mlops:name": "xyzshopsmart-recommender"})
    result = run_preview(tmp_path / "out", "staging-eu-west1", stack_file=path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"{path}: mlops:name xyzshopsmart-recommender gives ") for line in lines)
    assert any("ElastiCache replication group name xyzshopsmart-recommender-staging-eu-west1-cache (47 characters)" in line
               for line in lines)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "staging-eu-west1").exists()


def test_make_previews_every_stack_file(tmp_path):
    shutil.copy(REPO_ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(tmp_path / "stacks" / "Pulumi.staging.yaml", tmp_path / "stacks" / "Pulumi.qa.yaml")
    for target, tool in (("preview", "tools.preview"), ("policy", "tools.review"), ("cost", "tools.cost")):
        out = subprocess.run(["make", "-n", "-o", ".venv/.installed", target], cwd=tmp_path, capture_output=True, text=True).stdout
        assert f"-m {tool} dev prod qa staging" in out, out
