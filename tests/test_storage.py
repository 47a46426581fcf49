import json

from preview_run import of_type

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
        for name in buckets:
            assert all(blocks[name][k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
            assert versioning[name]["versioningConfiguration"]["status"] == "Enabled"
            assert sse[name]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("aws:kms", "AES256")
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
    keep = {"dev": 10, "staging": 30, "prod": 100}
    for stack, resources in stacks.items():
        repos = of_type(resources, "aws:ecr/repository:Repository")
        assert {r["inputs"]["name"].split("/")[1] for r in repos} == {"serving", "mlflow", "pipeline"}
        for r in repos:
            assert r["inputs"]["imageTagMutability"] == "IMMUTABLE"
            assert r["inputs"]["imageScanningConfiguration"]["scanOnPush"] is True
            assert r["inputs"]["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        for p in of_type(resources, "aws:ecr/lifecyclePolicy:LifecyclePolicy"):
            assert json.loads(p["inputs"]["policy"])["rules"][0]["selection"]["countNumber"] == keep[stack]


def test_every_kms_key_rotates(stacks):
    for resources in stacks.values():
        keys = of_type(resources, "aws:kms/key:Key")
        assert len(keys) >= 8
        assert all(k["inputs"]["enableKeyRotation"] is True for k in keys)
