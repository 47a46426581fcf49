import importlib

REQUIRED = {"project", "environment", "owner", "cost-center"}


def taggable(typ: str) -> bool:
    """Asks the provider SDK itself whether the resource type takes `tags`."""
    _, module_path, cls = typ.split(":")
    module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    return "tags" in getattr(module, cls).__init__.__code__.co_varnames or hasattr(getattr(module, cls), "tags")


def test_every_taggable_aws_resource_carries_the_four_tags(stacks):
    for stack, resources in stacks.items():
        checked = 0
        for r in resources:
            if not r["type"].startswith("aws:") or not taggable(r["type"]):
                continue
            checked += 1
            tags = r["inputs"].get("tags", {})
            assert REQUIRED <= set(tags), f"{stack}: {r['urn']} lacks {REQUIRED - set(tags)}"
            assert tags["environment"] == stack
            assert tags["cost-center"] == "CC-4521"
        assert checked > 50


def test_taggable_detection_tells_types_apart():
    assert taggable("aws:s3/bucket:Bucket")
    assert not taggable("aws:s3/bucketPolicy:BucketPolicy")
    assert taggable("aws:iam/role:Role")
    assert not taggable("aws:iam/rolePolicy:RolePolicy")
