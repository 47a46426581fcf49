"""tools.diff.apply_ignore_changes: properties under a resource's ignoreChanges keep the base
value, as the Pulumi engine does on `pulumi up`; other properties still diff."""
from tools.diff import apply_ignore_changes, compare


def group(desired: int, maximum: int, ignore=("scalingConfig.desiredSize",)) -> dict:
    record = {"urn": "urn:pulumi:prod::p::aws:eks/nodeGroup:NodeGroup::nodes-gpu", "type": "aws:eks/nodeGroup:NodeGroup",
              "name": "nodes-gpu", "parent": None, "custom": True,
              "inputs": {"scalingConfig": {"desiredSize": desired, "maxSize": maximum, "minSize": 1}}}
    if ignore:
        record["ignoreChanges"] = list(ignore)
    return record


def test_ignored_path_keeps_base_value_and_is_reported():
    effective, ignored = apply_ignore_changes([group(1, 4)], [group(2, 4)])
    assert ignored == [("nodes-gpu", "scalingConfig.desiredSize", 1, 2)]
    assert effective[0]["inputs"]["scalingConfig"]["desiredSize"] == 1
    assert compare([group(1, 4)], effective) == []


def test_other_paths_of_the_same_resource_still_change():
    effective, ignored = apply_ignore_changes([group(1, 4)], [group(2, 6)])
    assert len(ignored) == 1
    [change] = compare([group(1, 4)], effective)
    assert change.properties == [("scalingConfig.maxSize", 4, 6)]


def test_without_ignore_changes_or_on_create_nothing_is_ignored():
    effective, ignored = apply_ignore_changes([group(1, 4, ignore=())], [group(2, 4, ignore=())])
    assert ignored == [] and effective[0]["inputs"]["scalingConfig"]["desiredSize"] == 2
    effective, ignored = apply_ignore_changes([], [group(2, 4)])
    assert ignored == [] and effective[0]["inputs"]["scalingConfig"]["desiredSize"] == 2
