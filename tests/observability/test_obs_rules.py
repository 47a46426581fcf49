"""Every alert rule is checked by promtool, and every alert has a firing and a silent unit test."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_support import (MODEL_RENDERS, PLATFORM_RULE_FILES, PLATFORM_TEST_FILES, alert_rules, load, run,
                         tool)
from observability.model_rules import model_rule_groups

PAGE_OR_TICKET = {"page", "ticket"}
# The heartbeat is routed by its name to the dead man's switch, never paged or ticketed.
HEARTBEAT = {"Watchdog": "none"}


def _rule_files(model_rules_dir: Path) -> list[Path]:
    return PLATFORM_RULE_FILES + [model_rules_dir / f"{name}.rules.yaml" for name in MODEL_RENDERS]


def _test_files(model_rules_dir: Path) -> list[Path]:
    return PLATFORM_TEST_FILES + [model_rules_dir / f"{name}.test.yaml" for name in MODEL_RENDERS]


def test_the_platform_ships_rule_files_with_tests():
    assert PLATFORM_RULE_FILES, "no observability/rules/*.rules.yaml"
    tested = {rule_file for test in PLATFORM_TEST_FILES for rule_file in load(test)["rule_files"]}
    for rule_file in PLATFORM_RULE_FILES:
        assert f"../{rule_file.name}" in tested, f"{rule_file.name} has no promtool test file"


def test_promtool_accepts_every_rule_file(model_rules_dir):
    result = run(tool("promtool"), "check", "rules", *_rule_files(model_rules_dir))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass_for_the_platform_rules():
    # The model renders' cases run in test_each_model_render_passes_its_promtool_cases_rendered_here:
    # promtool took 3 s of CPU on recsys.test.yaml alone, and ran it twice when both tests did.
    result = run(tool("promtool"), "test", "rules", *PLATFORM_TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PLATFORM_TEST_FILES), result.stdout


def test_every_alert_has_a_firing_and_a_silent_case(model_rules_dir):
    alerts = {(rule["alert"], rule["labels"]["severity"])
              for path in _rule_files(model_rules_dir) for rule in alert_rules(load(path))}
    fired, silent = set(), set()
    for path in _test_files(model_rules_dir):
        for group in load(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                expected = case.get("exp_alerts") or []
                if not expected:
                    silent.add(case["alertname"])
                for alert in expected:
                    fired.add((case["alertname"], alert["exp_labels"]["severity"]))
    missing_fire = sorted(alerts - fired)
    missing_silent = sorted({name for name, _ in alerts} - silent)
    assert not missing_fire, f"alerts (name, severity) never shown firing: {missing_fire}"
    assert not missing_silent, f"alerts never shown silent on healthy series: {missing_silent}"


def test_every_alert_says_who_and_what_to_do(model_rules_dir):
    for path in _rule_files(model_rules_dir):
        for rule in alert_rules(load(path)):
            name, labels, notes = rule["alert"], rule.get("labels", {}), rule.get("annotations", {})
            assert labels.get("severity") in (PAGE_OR_TICKET | {HEARTBEAT.get(name)}) - {None}, name
            assert labels.get("team"), f"{name} in {path.name} has no team label"
            for key in ("summary", "description", "runbook"):
                assert notes.get(key), f"{name} in {path.name} has no {key} annotation"


def test_alert_names_are_unique_across_files(model_rules_dir):
    owners: dict[str, str] = {}
    for path in PLATFORM_RULE_FILES + [model_rules_dir / "recsys.rules.yaml"]:
        for name in {rule["alert"] for rule in alert_rules(load(path))}:
            assert name not in owners, f"{name} is defined in {owners[name]} and {path.name}"
            owners[name] = path.name


def test_per_model_alerts_carry_model_team_and_namespace():
    rules = model_rule_groups(**MODEL_RENDERS["recsys"])
    for rule in alert_rules(rules):
        assert rule["labels"]["model"] == "recsys"
        assert rule["labels"]["namespace"] == "recsys"
        assert rule["labels"]["team"] == "recommendations"


@pytest.mark.parametrize("bad", [
    dict(latency_threshold_seconds=0.12),  # between buckets: the slow share cannot be counted
    dict(availability_target=1.0),  # no error budget at all
    dict(canary_error_rate=0),
    dict(model="RecSys"),
])
def test_model_rules_reject_unusable_arguments(bad):
    with pytest.raises(ValueError):
        model_rule_groups(**{**MODEL_RENDERS["recsys"], **bad})


def test_model_tests_order_every_group(model_rules_dir):
    # promtool evaluates unlisted groups in random order; an alert reading a recording rule
    # from the previous step makes a test flaky.
    for name in MODEL_RENDERS:
        groups = [group["name"] for group in load(model_rules_dir / f"{name}.rules.yaml")["groups"]]
        assert load(model_rules_dir / f"{name}.test.yaml")["group_eval_order"] == groups


def test_each_model_render_passes_its_promtool_cases_rendered_here(tmp_path):
    # Renders in the test itself, not through the session fixture, so the generation code is
    # attributed to a test that runs promtool on it (what the mutation run selects by).
    import shutil

    from obs_support import MODEL_TESTS_DIR
    from observability.rulefile import dump

    for name, kwargs in MODEL_RENDERS.items():
        (tmp_path / f"{name}.rules.yaml").write_text(dump(model_rule_groups(**kwargs)))
        shutil.copy(MODEL_TESTS_DIR / f"{name}.test.yaml", tmp_path / f"{name}.test.yaml")
    tests = sorted(tmp_path.glob("*.test.yaml"))
    assert len(tests) == len(MODEL_RENDERS) == 2
    result = run(tool("promtool"), "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests), result.stdout


def test_slo_alerts_say_which_budget_burns_and_how_fast():
    groups = model_rule_groups(model="recsys", namespace="recsys", team="recommendations",
                               availability_target=0.999, latency_threshold_seconds=0.1)
    alerts = [rule for group in groups["groups"] for rule in group["rules"]
              if rule.get("alert") in ("ModelAvailabilityBudgetBurn", "ModelLatencyBudgetBurn")]
    # Two budgets x a page and a ticket alert (multiwindow, multi-burn-rate: the SRE workbook).
    assert len(alerts) == 4
    availability = [a for a in alerts if a["alert"] == "ModelAvailabilityBudgetBurn"]
    assert {a["annotations"]["summary"] for a in availability} == {
        "recsys: availability error budget burning fast", "recsys: availability error budget burning slow"}
    # 99.9% availability leaves a 0.1% error budget.
    assert all(a["annotations"]["description"].endswith("the 99.9% availability SLO allows 0.1%.") for a in availability)
    assert all("release_rollback_recsys" in a["annotations"]["runbook"] for a in availability)
    fast = [a for a in alerts if a["labels"]["severity"] == "page"]
    assert len(fast) == 2 and all(a["annotations"]["summary"].endswith("burning fast") for a in fast)
    assert all(set(a["annotations"]) == {"summary", "description", "runbook"} and a["for"] for a in alerts)
