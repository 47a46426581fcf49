"""tools/diff.py without a preview: flattening and masking of properties, which changes force a
replacement (the provider's ForceNew / immutable fields), the actions compare() reports, and the
report a reviewer reads (state, counts, policy verdict, cost delta). The previews of both sides
are in test_diff_e2e.py."""
import json
import subprocess

import pytest

from policy.offline import Violation
from tools import diff
from tools.cost import CostReport, Line, Unpriced
from tools.diff import (SECRET, Change, Side, StackDiff, compare, delta, diff_stack, flatten, money, property_changes,
                        stack_blocks, summary_blocks)
from tools.diff_markdown import render

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def rec(type_, name, inputs, parent=None):
    return {"urn": f"urn:pulumi:dev::p::{type_}::{name}", "type": type_, "name": name, "parent": parent,
            "inputs": inputs}


def test_flatten_nested_lists_empty_containers_and_json_strings():
    assert flatten({"b": {"c": [1, {"d": 2}]}, "a": {}, "e": [], "f": "x"}) == {
        "a": {}, "b.c[0]": 1, "b.c[1].d": 2, "e": [], "f": "x"}
    assert list(flatten({"z": 1, "a": 2})) == ["a", "z"]
    # A JSON document in a string (an IAM policy) is compared statement by statement.
    assert flatten({"policy": '{"Statement": [{"Effect": "Allow"}]}'}) == {"policy:Statement[0].Effect": "Allow"}
    assert flatten({"p": "[1, 2]"}) == {"p:[0]": 1, "p:[1]": 2}
    assert flatten({"p": "{not json"}) == {"p": "{not json"}
    assert flatten({"p": "{}"}) == {"p": "{}"}
    assert flatten({"p": "[]"}) == {"p": "[]"}
    assert flatten(3) == {"": 3}


def test_secrets_are_masked_by_key_and_by_value():
    changes = property_changes(
        {"password": "old", "authToken": "t1", "privateKey": "k1", "private_key": "k", "tag": "a",
         "cfg": '{"secretString": "s1"}', "passwordLength": 8, "x": SECRET},
        {"password": "new", "authToken": "t2", "privateKey": "k2", "private_key": "k2", "tag": "b",
         "cfg": '{"secretString": "s2"}', "passwordLength": 9, "x": "visible"})
    assert changes == [
        ("authToken", SECRET, SECRET), ("cfg:secretString", SECRET, SECRET), ("password", SECRET, SECRET),
        ("passwordLength", 8, 9), ("privateKey", SECRET, SECRET), ("private_key", SECRET, SECRET),
        ("tag", "a", "b"), ("x", SECRET, "visible")]


def test_property_changes_report_unset_on_either_side():
    assert property_changes({"x": {"a": 1, "b": 0}}, {"x": {"b": 0}}) == [("x.a", 1, diff._ABSENT)]
    [(path, old, new)] = property_changes({"x": {"b": 0}}, {"x": {"a": 2, "b": 0}})
    assert (path, old, new) == ("x.a", diff._ABSENT, 2) and repr(old) == "(unset)"
    assert property_changes({"a": 1}, {"a": 1}) == []


@pytest.mark.parametrize("type_,path,reason", [
    (NODE_GROUP, "instanceTypes[0]", "instanceTypes"),
    (NODE_GROUP, "instanceTypes", "instanceTypes"),
    (NODE_GROUP, "scalingConfig.maxSize", None),
    (NODE_GROUP, "instanceTypesExtra", None),  # a prefix of the name is not the property
    ("aws:iam/role:Role", "name", "name"),
    ("aws:iam/rolePolicy:RolePolicy", "policy:Statement[0]", None),
    ("aws:msk/cluster:Cluster", "brokerNodeGroupInfo.clientSubnets[1]", "brokerNodeGroupInfo.clientSubnets"),
    ("aws:eks/cluster:Cluster", "encryptionConfig:resources", "encryptionConfig"),
    ("kubernetes:apps/v1:Deployment", "metadata.name", "metadata.name"),
    ("kubernetes:apps/v1:Deployment", "metadata.labels.app", None),
    ("kubernetes:core/v1:ConfigMap", "metadata.namespace", "metadata.namespace"),
    # A Helm release keeps its identity in `name`/`namespace`, not in metadata.
    ("kubernetes:helm.sh/v3:Release", "metadata.name", None),
    ("kubernetes:helm.sh/v3:Release", "namespace", "namespace"),
    ("aws:unknown/type:Type", "name", None),
])
def test_which_paths_force_a_replacement(type_, path, reason):
    assert diff._forces_replacement(type_, path) == reason


def test_compare_reports_create_delete_update_and_replace_per_component():
    parent = rec("mlops:platform:Nodes", "nodes", {})
    gpu = rec(NODE_GROUP, "gpu", {"instanceTypes": ["g5.xlarge"], "scalingConfig": {"maxSize": 2}}, parent["urn"])
    sys_ = rec(NODE_GROUP, "sys", {"scalingConfig": {"maxSize": 3}}, parent["urn"])
    gone = rec("aws:kms/key:Key", "old-key", {})
    same = rec("aws:ec2/eip:Eip", "eip", {"domain": "vpc"})
    before = [parent, gpu, sys_, gone, same]
    after = [parent, {**gpu, "inputs": {"instanceTypes": ["g6.xlarge"], "scalingConfig": {"maxSize": 2}}},
             {**sys_, "inputs": {"scalingConfig": {"maxSize": 5}}}, same, rec("aws:kms/key:Key", "new-key", {}),
             rec("mlops:platform:Other", "component-only", {"x": 1})]
    changes = compare(before, after)
    assert [(c.name, c.component, c.action, c.replace_reasons) for c in changes] == [
        ("gpu", "nodes", "replace", ["instanceTypes"]),
        ("sys", "nodes", "update", []),
        ("new-key", "(stack)", "create", []),
        ("old-key", "(stack)", "delete", []),
    ]
    assert changes[1].properties == [("scalingConfig.maxSize", 3, 5)]
    assert changes[0].type == NODE_GROUP and changes[0].urn == gpu["urn"]


def test_ignore_changes_on_list_items_and_quoted_paths():
    def tagged(tags, subnets, ignore):
        return {**rec("aws:ec2/subnet:Subnet", "s", {"tags": tags, "ids": subnets}), "ignoreChanges": ignore}

    before = tagged({"a.b": "1", "k": "v"}, ["x", "y"], [])
    after = tagged({"a.b": "2", "k": "w"}, ["x", "z"], ['tags["a.b"]', "ids[1]", "ids[5]", "missing.path"])
    effective, ignored = diff.apply_ignore_changes([before], [after])
    assert ignored == [("s", 'tags["a.b"]', "1", "2"), ("s", "ids[1]", "y", "z")]
    assert effective[0]["inputs"] == {"tags": {"a.b": "1", "k": "w"}, "ids": ["x", "y"]}
    assert after["inputs"]["tags"]["a.b"] == "2"  # the working tree's record is not modified
    # A path set only in the working tree is dropped: the engine keeps it unset.
    added = {**rec("aws:ec2/subnet:Subnet", "s", {"tags": {"new": "1"}}), "ignoreChanges": ["tags.new"]}
    effective, ignored = diff.apply_ignore_changes([rec("aws:ec2/subnet:Subnet", "s", {"tags": {}})], [added])
    assert effective[0]["inputs"] == {"tags": {}} and ignored[0][2] is diff._ABSENT


def cost_report(monthly, ceiling=None, unpriced=()):
    report = CostReport("us-east-1", "2026-11-28", "t", "USD")
    report.lines = [Line("nodes", "gpu", "EC2", monthly, monthly if ceiling is None else ceiling)]
    report.unpriced = list(unpriced)
    return report


def stack_diff(**overrides):
    fields = dict(stack="dev", exists_before=True, exists_after=True, error_before=None, error_after=None,
                  changes=[], cost_before=cost_report(100.0), cost_after=cost_report(100.0), policy_before=[],
                  policy_after=[])
    return StackDiff(**{**fields, **overrides})


def change(name, action, reasons=(), properties=()):
    return Change(f"urn:pulumi:dev::p::{NODE_GROUP}::{name}", NODE_GROUP, name, "nodes", action, list(properties),
                  list(reasons))


def test_money_and_delta_signs_and_rounding():
    assert (money(None), money(1234.5), money(0.004)) == ("—", "$1,234.50", "$0.00")
    assert delta(100.0, 250.5) == "+$150.50"
    assert delta(250.5, 100.0) == "−$150.50"
    assert delta(None, 2.0) == "+$2.00" and delta(2.0, None) == "−$2.00"
    # Below half a cent is no change, at half a cent it is.
    assert delta(0.0, 0.0049) == "±$0.00" and delta(0.0, 0.005) == "+$0.01"
    assert delta(0.0049, 0.0) == "±$0.00" and delta(0.005, 0.0) == "−$0.01"


def test_state_and_counts_of_a_stack():
    d = stack_diff(changes=[change("a", "create"), change("b", "create"), change("c", "update"),
                            change("d", "replace", ["instanceTypes"]), change("e", "delete")])
    assert (d.count("create"), d.count("update"), d.count("replace"), d.count("delete")) == (2, 1, 1, 1)
    assert diff._state(d) == "5 changes"
    assert diff._state(stack_diff()) == "no changes"
    assert diff._state(stack_diff(exists_before=False)) == "new stack"
    assert diff._state(stack_diff(exists_after=False)) == "stack removed"
    assert diff._state(stack_diff(error_before="boom")) == "❌ FAILED (base preview failed)"
    assert diff._state(stack_diff(error_after="boom")) == "❌ FAILED (working tree preview failed)"
    assert diff._state(stack_diff(error_before="a", error_after="b")) == "❌ FAILED (base and working tree preview failed)"
    assert not stack_diff().failed and stack_diff(error_after="x").failed


def test_policy_line_counts_mandatory_and_advisory():
    from policy.pack import RULES

    mandatory = Violation("rds-backups", "mandatory", "urn:a", "m")
    advisory = Violation("log-group-retention", "advisory", "urn:b", "a")
    assert diff._policy_line(stack_diff(policy_after=[mandatory, advisory, advisory])) == (
        f"❌ fail ({len(RULES)} rules: 1 mandatory, 2 advisory)")
    assert diff._policy_line(stack_diff(policy_after=[advisory])) == f"✅ pass ({len(RULES)} rules: 0 mandatory, 1 advisory)"
    assert diff._policy_line(stack_diff(exists_after=False)) == "—"
    assert diff._policy_line(stack_diff(error_after="x")) == "❌ not evaluated: preview FAILED"
    assert stack_diff(policy_after=[mandatory, mandatory, advisory]).mandatory_after == 2


def test_cost_line_of_a_change_a_failure_and_a_region_without_prices():
    d = stack_diff(cost_after=cost_report(150.0))
    assert diff._cost_line(d) == "$100.00 → $150.00 (+$50.00)"
    assert diff._cost_line(stack_diff(cost_before=None)) == "— → $100.00 (+$100.00)"
    assert diff._cost_line(stack_diff(error_before="x")) == "— (not estimated: preview FAILED)"
    assert diff._cost_line(stack_diff(cost_notes=["no price table"])) == "— (not estimated: no price table for the region)"


def test_stack_report_lists_replacements_properties_cost_and_policy_changes():
    fixed = Violation("kms-rotation", "mandatory", f"urn:pulumi:dev::p::aws:kms/key:Key::k1", "rotate the key")
    still = Violation("log-group-retention", "advisory", None, "set retention")
    new = Violation("rds-backups", "mandatory", "urn:pulumi:dev::p::aws:rds/instance:Instance::db", "backups | off")
    d = stack_diff(
        changes=[change("gpu", "replace", ["instanceTypes"], [("instanceTypes[0]", "g5.xlarge", "g6.xlarge")]),
                 change("sys", "update", (), [("scalingConfig.maxSize", 3, 5), ("password", SECRET, SECRET)]),
                 change("new", "create"), change("old", "delete")],
        cost_after=cost_report(150.0, 300.0, [Unpriced("nodes", "odd", "EC2 z9 x1 (max 1)", "not in the table")]),
        policy_before=[fixed, still], policy_after=[still, new],
        ignored=[("gpu", "scalingConfig.desiredSize", 1, 2)])
    text = render(stack_blocks(d, "##"))
    assert text.startswith("## dev: 1 to add, 2 to change (1 replacement), 1 to remove\n")
    assert "- **Policy:** ❌ fail (" in text
    assert "- **Monthly cost:** $100.00 → $150.00 (+$50.00); at max size $100.00 → $300.00 (+$200.00)" in text
    assert "- Prices: on-demand us-east-1, table of 2026-11-28 (`pricing/aws-us-east-1.yaml`)" in text
    assert ("`gpu` scalingConfig.desiredSize `1` → `2`") in text
    assert "- ⚠️ **Replacements** (delete and create: new identity, data on it is lost): `gpu` (instanceTypes)" in text
    assert "### Resources" in text and "### Property changes" in text and "### Policy violations" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    resource_rows = [r for r in rows if "`aws:eks/nodeGroup:NodeGroup`" in r]
    # Replacements first, then deletes, updates, creates: the risky ones on top.
    assert [r.split("|")[1].strip() for r in resource_rows] == ["±", "−", "~", "+"]
    assert "**replace** (instanceTypes)" in resource_rows[0]
    assert "| `gpu` | `instanceTypes[0]` | `g5.xlarge` | `g6.xlarge` | **forces replacement** |" in text
    assert "| `sys` | `scalingConfig.maxSize` | `3` | `5` |  |" in text
    assert "| `sys` | `password` | `[secret]` | `[secret]` |  |" in text
    assert "| nodes | $100.00 | $150.00 | +$50.00 | $100.00 | $300.00 | +$200.00 |" in text
    assert "| **total** | $100.00 | $150.00 | +$50.00 | $100.00 | $300.00 | +$200.00 |" in text
    assert "**Not priced** (missing from the price table; not in the totals): `odd` EC2 z9 x1 (max 1)" in text
    assert "| new | mandatory | rds-backups | `db` | backups \\| off |" in text
    assert "| still | advisory | log-group-retention | `stack` | set retention |" in text
    assert "| fixed | mandatory | kms-rotation | `k1` | rotate the key |" in text


def test_unchanged_components_are_left_out_of_the_cost_table():
    text = render(stack_blocks(stack_diff(), "#"))
    assert text.startswith("# dev: 0 to add, 0 to change (0 replacements), 0 to remove\n")
    assert "| nodes |" not in text and "| **total** | $100.00 | $100.00 | ±$0.00 |" in text
    assert "Resources" not in text and "Policy violations" not in text and "Not priced" not in text


def test_failed_new_and_removed_stacks_say_so():
    failed = render(stack_blocks(stack_diff(error_after="Traceback: boom", cost_before=None, cost_after=None), "##"))
    assert failed.startswith("## dev: ❌ DIFF FAILED: FAILED (working tree preview failed); nothing below is a plan\n")
    assert "**The working tree preview failed:**\n\n```\nTraceback: boom\n```" in failed
    assert "at max size" not in failed and "Prices:" not in failed
    new = render(stack_blocks(stack_diff(exists_before=False, cost_before=None), "##"))
    assert "_This stack does not exist on the base side: everything is new._" in new
    assert "| nodes | — | $100.00 | +$100.00 |" in new
    removed = render(stack_blocks(stack_diff(exists_after=False, cost_after=None), "##"))
    assert "_This stack no longer exists in the working tree: everything is removed._" in removed
    noted = render(stack_blocks(stack_diff(cost_notes=["no price table for eu-west-1"]), "##"))
    assert "- ⚠️ **Cost not estimated:** no price table for eu-west-1" in noted and "at max size" not in noted


def test_summary_has_one_row_per_stack_then_each_stack():
    diffs = [stack_diff(changes=[change("a", "create"), change("b", "replace", ["x"]), change("c", "update")]),
             stack_diff(stack="prod", error_before="x", cost_before=None, cost_after=None)]
    text = render(summary_blocks("main (abc1234567)", diffs))
    assert text.startswith("# Infrastructure diff: `main (abc1234567)` → this change\n")
    rows = [line for line in text.splitlines() if line.startswith(("| **dev**", "| **prod**"))]
    assert len(rows) == 2
    assert rows[0].startswith("| **dev** | 3 changes | 1 | 2 | 1 | 0 | ✅ pass (")
    assert rows[1].startswith("| **prod** | ❌ FAILED (base preview failed) | 0 | 0 | 0 | 0 | ❌ not evaluated")
    assert "\n## dev: 1 to add, 2 to change (1 replacement), 0 to remove\n" in text
    assert "\n## prod: ❌ DIFF FAILED" in text


def test_stack_diff_json():
    d = stack_diff(changes=[change("sys", "update", (), [("a", diff._ABSENT, 1)])], cost_before=None,
                   ignored=[("gpu", "p", diff._ABSENT, 2)], cost_notes=["n"],
                   policy_after=[Violation("r", "advisory", None, "m")])
    as_json = d.to_json()
    assert as_json["exists"] == {"before": True, "after": True} and as_json["errors"] == {"before": None, "after": None}
    assert as_json["changes"] == [{"urn": d.changes[0].urn, "type": NODE_GROUP, "name": "sys", "component": "nodes",
                                   "action": "update", "replace_reasons": [],
                                   "properties": [{"path": "a", "before": None, "after": 1}]}]
    assert as_json["cost"]["before"] is None and as_json["cost"]["after"]["monthly"] == 100.0
    assert as_json["policy"] == {"before": [], "after": [{"policy": "r", "enforcement": "advisory", "urn": None,
                                                          "message": "m"}]}
    assert as_json["ignored"] == [{"resource": "gpu", "path": "p", "before": None, "after": 2}]
    assert (as_json["failed"], as_json["cost_notes"], as_json["stack"]) == (False, ["n"], "dev")


def test_diff_stack_prices_judges_and_fails_as_a_whole():
    key = rec("aws:kms/key:Key", "key", {"enableKeyRotation": True})
    before, after = Side("base", [key]), Side("head", [key, rec("aws:ec2/eip:Eip", "eip", {})])
    d = diff_stack("dev", before, after, "dev", "dev")
    assert [(c.name, c.action) for c in d.changes] == [("eip", "create")]
    assert d.cost_after.monthly > d.cost_before.monthly > 0
    assert (d.exists_before, d.exists_after, d.failed) == (True, True, False)
    noted = diff_stack("dev", before, after, "dev", "dev", "us-east-1", "eu-west-1")
    assert noted.cost_after is None and noted.cost_before is not None
    assert noted.cost_notes == ["no price table for eu-west-1 (pricing/aws-eu-west-1.yaml): cost not estimated; "
                                "add the table to price this region"]
    failed = diff_stack("dev", Side("base", None, "boom"), after, "dev", "dev")
    assert (failed.changes, failed.cost_before, failed.cost_after, failed.policy_after) == ([], None, None, [])
    assert (failed.exists_before, failed.error_before, failed.failed) == (True, "boom", True)
    created = diff_stack("new", Side("base"), after, None, "dev")
    assert created.exists_before is False and created.cost_before is None
    assert [c.action for c in created.changes] == ["create", "create"]


def test_stack_files_environment_and_region_of_a_tree(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  mlops:environment: dev\n  aws:region: eu-west-1\n")
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text("config: [\n")
    (tmp_path / "stacks" / "Pulumi.qa.yml").write_text("config: {}\n")
    assert diff.stacks_in(tmp_path) == ["bad", "dev"]
    assert (diff._environment(tmp_path, "dev"), diff._region(tmp_path, "dev")) == ("dev", "eu-west-1")
    assert (diff._environment(tmp_path, "bad"), diff._region(tmp_path, "bad")) == (None, "us-east-1")
    # A stack on neither side needs no preview.
    assert diff.run_previews(tmp_path, ["gone"], tmp_path / "out") == {"gone": Side("gone")}


def test_default_base_is_the_merge_base_with_main(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "one")
    fork = diff._git(tmp_path, "rev-parse", "HEAD")
    git("checkout", "-q", "-b", "work")
    git("commit", "-q", "--allow-empty", "-m", "two")
    assert diff.default_base(tmp_path) == fork
    git("branch", "-q", "-m", "main", "trunk")
    assert diff.default_base(tmp_path) == "HEAD"


def git_repo(path):
    def git(*args):
        return subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                               check=True, capture_output=True, text=True).stdout.strip()

    path.mkdir()
    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "base")
    git("checkout", "-q", "-b", "work")
    return git


def test_main_writes_each_stack_and_the_summary_and_cleans_up(tmp_path, capsys):
    git = git_repo(tmp_path / "repo")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.md").write_text("from an earlier run")
    sha = git("rev-parse", "HEAD")
    assert diff.main(["--repo", str(tmp_path / "repo"), "--stacks", "ghost", "--out", str(out), "--base", "main"]) == 0
    assert sorted(p.name for p in out.glob("*.md")) == ["ghost.md", "summary.md"]
    assert (out / "summary.md").read_text().startswith(f"# Infrastructure diff: `main ({sha[:10]})` → this change\n")
    assert (out / "ghost.md").read_text().startswith("# ghost: 0 to add, 0 to change (0 replacements), 0 to remove\n")
    assert json.loads((out / "ghost.json").read_text())["exists"] == {"before": False, "after": False}
    assert git("worktree", "list").count("\n") == 0  # the base worktree is gone again
    assert capsys.readouterr().out.startswith("ghost: new stack; +0 ~0 ±0 -0; policy —; monthly ")
    # Without --base: the merge base with main, labelled by its hash alone.
    assert diff.main(["--repo", str(tmp_path / "repo"), "--stacks", "ghost", "--out", str(out), "--limit", "200"]) == 0
    assert (out / "summary.md").read_text().startswith(f"# Infrastructure diff: `{sha[:10]}` → this change")
    assert len((out / "summary.md").read_text()) <= 200


def test_main_exits_1_on_a_failed_side_and_3_on_a_mandatory_violation(tmp_path, monkeypatch, capsys):
    git_repo(tmp_path / "repo")
    key = rec("aws:kms/key:Key", "key", {"enableKeyRotation": True, "deletionWindowInDays": 30})
    no_backups = rec("aws:rds/instance:Instance", "db", {"backupRetentionPeriod": 0, "tags": {"environment": "prod"}})
    sides = {}

    def previews(tree, stacks, out):
        return {s: sides[out.name] for s in stacks}

    monkeypatch.setattr(diff, "run_previews", previews)
    args = ["--repo", str(tmp_path / "repo"), "--stacks", "prod", "--out", str(tmp_path / "out")]
    sides.update(base=Side("prod", [key]), head=Side("prod", None, "Traceback\nboom"))
    assert diff.main(args) == 1
    err = capsys.readouterr().err
    assert "prod: ❌ FAILED (working tree preview failed): DIFF FAILED, no plan, policy or cost shown" in err
    assert "  working tree: Traceback\n                boom" in err
    sides.update(head=Side("prod", [key, no_backups]))
    assert diff.main(args) == 3
    assert "prod: 1 change; +1 ~0 ±0 -0; policy ❌ fail (" in capsys.readouterr().out
    sides.update(head=Side("prod", [no_backups]))  # the key removed, the database added
    assert diff.main(args) == 3
    assert "prod: 2 changes; +1 ~0 ±0 -1; policy ❌ fail (" in capsys.readouterr().out


def test_values_in_the_tables():
    assert diff._value(diff._ABSENT) == "(unset)"
    assert diff._value({"b": 1, "a": [2]}) == '`{"a": [2], "b": 1}`'  # sorted keys: stable between runs
    assert diff._value("say `hi`") == "`say 'hi'`"  # a backtick would end the code span
    assert diff._value("x" * 120) == "`" + "x" * 120 + "`"
    assert diff._value("x" * 121) == "`" + "x" * 119 + "…`"
    assert diff._value(3) == "`3`"


def test_masking_reads_the_last_path_segment():
    assert diff._mask("spec.auth:password", "p") == SECRET
    assert diff._mask("users[0].token", "t") == SECRET
    assert diff._mask("tokens[0].name", "n") == "n"
    assert diff._mask("", "v") == "v"
    assert diff._mask("password.length", 8) == 8


def test_property_paths_at_list_ends_and_missing_parents():
    assert diff._at({"a": [1, 2]}, "a[1]") == 2
    assert diff._at({"a": [1, 2]}, "a[2]") is diff._ABSENT
    assert diff._at({"a": 5}, "a.b") is diff._ABSENT
    value = {"a": [{"b": 1}]}
    diff._put(value, "a[0].c", 2)
    diff._put(value, "x.y", 3)
    assert value == {"a": [{"b": 1, "c": 2}], "x": {"y": 3}}
    diff._put(value, "x.y", diff._ABSENT)
    diff._put(value, "x.gone", diff._ABSENT)
    assert value == {"a": [{"b": 1, "c": 2}], "x": {}}
    assert diff._forces_replacement(NODE_GROUP, "instanceTypes.x") == "instanceTypes"


def table_header(text, first):
    return next(line for line in text.splitlines() if line.startswith(first))


def test_report_tables_have_the_columns_a_reviewer_reads():
    fixed = Violation("kms-rotation", "mandatory", None, "rotate")
    d = stack_diff(changes=[change("gpu", "replace", ["instanceTypes", "diskSize"], [("diskSize", 20, 50)]),
                            change("old", "delete")],
                   cost_after=cost_report(150.0, unpriced=[Unpriced("nodes", "a", "EC2 x", "r"),
                                                           Unpriced("nodes", "b", "EC2 y", "r")]),
                   policy_before=[fixed], ignored=[("gpu", "p", 1, 2), ("sys", "q", 3, 4)])
    lines = render(stack_blocks(d, "##")).splitlines()
    assert "|  | resource | type | component | action |" in lines
    assert "| resource | property | before | after |  |" in lines
    assert "| component | before | after | Δ | max size before | max size after | Δ max |" in lines
    assert "|  | enforcement | policy | resource | message |" in lines
    assert "| fixed | mandatory | kms-rotation | `stack` | rotate |" in lines
    assert "| ± | `gpu` | `aws:eks/nodeGroup:NodeGroup` | nodes | **replace** (instanceTypes, diskSize) |" in lines
    assert "| − | `old` | `aws:eks/nodeGroup:NodeGroup` | nodes | delete |" in lines
    assert ("- ⚠️ **Replacements** (delete and create: new identity, data on it is lost): "
            "`gpu` (instanceTypes, diskSize)") in lines
    assert ("- **Ignored** (the program sets `ignoreChanges`: `pulumi up` keeps the current value, no change and no "
            "cost): `gpu` p `1` → `2`, `sys` q `3` → `4`") in lines
    assert "**Not priced** (missing from the price table; not in the totals): `a` EC2 x; `b` EC2 y" in lines
    summary = render(summary_blocks("b", [d])).splitlines()
    assert "| stack | state | add | change | replace | remove | policy | monthly cost |" in summary
    assert summary[2] == ("Offline preview of every stack (no cloud credentials), the policy pack's verdict and the "
                          "on-demand monthly estimate. Details per stack below; property values that are secrets show "
                          "as `[secret]`.")
    assert next(line for line in summary if line.startswith("| **dev**")).startswith("| **dev** | 2 changes | 0 | 1 | 1 | 1 |")


def test_new_and_removed_stacks_and_failed_sides_are_their_own_lines():
    new = render(stack_blocks(stack_diff(exists_before=False, cost_before=None), "##")).splitlines()
    assert "_This stack does not exist on the base side: everything is new._" in new
    # The working tree's prices label the table, the base's when the stack is gone.
    assert "- Prices: on-demand us-east-1, table of 2026-11-28 (`pricing/aws-us-east-1.yaml`)" in new
    removed = render(stack_blocks(stack_diff(exists_after=False, cost_after=None), "##")).splitlines()
    assert "_This stack no longer exists in the working tree: everything is removed._" in removed
    assert "- Prices: on-demand us-east-1, table of 2026-11-28 (`pricing/aws-us-east-1.yaml`)" in removed
    failed = render(stack_blocks(stack_diff(error_before="E1", error_after="E2", cost_before=None, cost_after=None),
                                 "##")).split("\n\n")
    assert "**The base preview failed:**" in failed and "**The working tree preview failed:**" in failed


def test_main_writes_to_the_repos_build_diff_by_default(tmp_path):
    git_repo(tmp_path / "repo")
    assert diff.main(["--repo", str(tmp_path / "repo"), "--stacks", "ghost"]) == 0
    assert sorted(p.name for p in (tmp_path / "repo" / "build" / "diff").glob("*.md")) == ["ghost.md", "summary.md"]
