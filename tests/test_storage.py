import json

from preview_run import of_type

from infra.config import load_platform_config
from tools.stack_files import load_stack_config

LAKE = ("data-lake-raw", "data-lake-curated", "data-lake-features")


def by_bucket(resources, typ):
    return {r["name"]: r["inputs"] for r in of_type(resources, typ)}


def test_every_bucket_is_private_versioned_encrypted_and_tls_only(stacks):
    for stack, resources in stacks.items():
        buckets = by_bucket(resources, "aws:s3/bucket:Bucket")
        assert set(LAKE) <= set(buckets)
        blocks = by_bucket(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        versioning = by_bucket(resources, "aws:s3/bucketVersioning:BucketVersioning")
        sse = by_bucket(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        policies = by_bucket(resources, "aws:s3/bucketPolicy:BucketPolicy")
        # S3 delivers server access logs only to SSE-S3 buckets (AWS: "Enabling Amazon S3 server
        # access logging", destination bucket requirements): every other bucket uses a KMS key.
        log_targets = {name for name, b in buckets.items()
                       if b["bucket"] in {v["targetBucket"] for v in by_bucket(resources, "aws:s3/bucketLogging:BucketLogging").values()}}
        assert len(log_targets) == 1, log_targets
        assert len(buckets) >= len(LAKE) + 3  # the lake, its access logs, MLflow's and Airflow's
        for name in buckets:
            rule = sse[name]["rules"][0]["applyServerSideEncryptionByDefault"]
            if name in log_targets:
                assert rule["sseAlgorithm"] == "AES256", name
            else:
                assert rule["sseAlgorithm"] == "aws:kms" and rule.get("kmsMasterKeyId"), name
            assert all(blocks[name][k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
            assert versioning[name]["versioningConfiguration"]["status"] == "Enabled"
            deny = json.loads(policies[name]["policy"])["Statement"][0]
            assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            assert buckets[name].get("forceDestroy", False) is (stack == "dev")
        for name in LAKE:
            assert sse[name]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"


def test_raw_zone_tiers_to_ia_then_glacier_and_old_versions_expire(stacks):
    for resources in stacks.values():
        rules = by_bucket(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        raw = {r["id"]: r for r in rules["data-lake-raw"]["rules"]}
        assert raw["raw-tiering"]["transitions"] == [
            {"days": 30, "storageClass": "STANDARD_IA"}, {"days": 90, "storageClass": "GLACIER"}]
        for name in LAKE:
            ids = {r["id"] for r in rules[name]["rules"]}
            assert "expire-noncurrent-versions" in ids
        assert "raw-tiering" not in {r["id"] for r in rules["data-lake-curated"]["rules"]}


def test_lake_buckets_log_to_the_access_log_bucket(stacks):
    for resources in stacks.values():
        logging = by_bucket(resources, "aws:s3/bucketLogging:BucketLogging")
        for name in LAKE:
            assert logging[name]["targetBucket"].startswith("xyz-mlops-") and "access-logs" in logging[name]["targetBucket"]


def test_ecr_repositories_immutable_scanned_kms_with_lifecycle(stacks):
    for stack, resources in stacks.items():
        # What the stack file asks for, read through the config model (defaults included).
        keep = load_platform_config(load_stack_config(stack), f"stacks/Pulumi.{stack}.yaml").registry.keep_last_images
        repos = of_type(resources, "aws:ecr/repository:Repository")
        assert {r["inputs"]["name"].split("/")[1] for r in repos} == {"serving", "mlflow", "pipeline"}
        for r in repos:
            assert r["inputs"]["imageTagMutability"] == "IMMUTABLE"
            assert r["inputs"]["imageScanningConfiguration"]["scanOnPush"] is True
            assert r["inputs"]["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        policies = of_type(resources, "aws:ecr/lifecyclePolicy:LifecyclePolicy")
        # One lifecycle policy per repository: without one, a repository keeps every image forever.
        assert sorted(p["inputs"]["repository"] for p in policies) == sorted(r["inputs"]["name"] for r in repos)
        for p in policies:
            assert json.loads(p["inputs"]["policy"])["rules"][0]["selection"]["countNumber"] == keep


def test_every_kms_key_rotates(stacks):
    for resources in stacks.values():
        keys = of_type(resources, "aws:kms/key:Key")
        assert len(keys) >= 8
        assert all(k["inputs"]["enableKeyRotation"] is True for k in keys)
