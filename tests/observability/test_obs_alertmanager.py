"""The generated Alertmanager config passes amtool, and routes pages and tickets where intended."""

from __future__ import annotations

import json

import pytest

from obs_support import run, tool
from observability import alertmanager as am
from observability.rulefile import dump

ENVIRONMENTS = ("dev", "staging", "prod")
TEAMS = ["recommendations", "search"]


def _write(tmp_path, config: dict, name: str = "alertmanager.yaml"):
    path = tmp_path / name
    path.write_text(dump(config))
    return path


def _receivers(config_file, *labels: str) -> list[str]:
    result = run(tool("amtool"), "config", "routes", "test", f"--config.file={config_file}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("paging_enabled", [True, False], ids=["paging-on", "paging-off"])
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_amtool_accepts_the_config(tmp_path, environment, paging_enabled):
    config = am.alertmanager_config(environment, paging_enabled, TEAMS,
                                    dead_mans_switch_url="https://deadman.example/ping/abc")
    result = run(tool("amtool"), "check-config", _write(tmp_path, config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_accepts_the_config_without_a_dead_mans_switch(tmp_path):
    result = run(tool("amtool"), "check-config", _write(tmp_path, am.alertmanager_config("dev", False, TEAMS)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_go_to_the_team_pagerduty_service_and_tickets_to_slack(tmp_path):
    config_file = _write(tmp_path, am.alertmanager_config("prod", True, TEAMS))
    page = ["alertname=ModelAvailabilityBudgetBurn", "model=recsys", "team=recommendations"]
    assert _receivers(config_file, *page, "severity=page") == ["pagerduty-recommendations"]
    assert _receivers(config_file, *page, "severity=ticket") == [am.TICKETS]
    assert _receivers(config_file, "alertname=ModelNoTraffic", "team=search", "severity=page") == ["pagerduty-search"]


def test_amtool_verify_fails_on_a_wrong_receiver(tmp_path):
    # Proves the routing assertions above can fail.
    config_file = _write(tmp_path, am.alertmanager_config("prod", True, TEAMS))
    result = run(tool("amtool"), "config", "routes", "test", f"--config.file={config_file}",
                 "--verify.receivers=pagerduty-search", "severity=page", "team=recommendations")
    assert result.returncode != 0


def test_pages_of_unknown_teams_and_cluster_criticals_go_to_the_platform_service(tmp_path):
    config_file = _write(tmp_path, am.alertmanager_config("prod", True, TEAMS))
    assert _receivers(config_file, "alertname=ClusterScrapeTargetsDown", "team=ml-platform", "severity=page") == [
        am.PLATFORM_PAGER]
    # kube-prometheus-stack's default rules say "critical".
    assert _receivers(config_file, "alertname=KubeAPIDown", "severity=critical") == [am.PLATFORM_PAGER]
    assert _receivers(config_file, "alertname=KubeCPUOvercommit", "severity=warning") == [am.TICKETS]


def test_with_paging_disabled_pages_go_to_slack_marked_as_unpaged(tmp_path):
    config = am.alertmanager_config("dev", False, TEAMS)
    config_file = _write(tmp_path, config)
    assert _receivers(config_file, "team=recommendations", "severity=page") == [am.PAGES_PAGING_DISABLED]
    assert _receivers(config_file, "team=recommendations", "severity=ticket") == [am.TICKETS]
    # The PagerDuty receivers stay in the configuration (what would page is reviewable) but no
    # route leads to them while paging is off.
    assert am.pager_receiver("recommendations") in {r["name"] for r in config["receivers"]}
    assert am.pager_receiver("recommendations") not in json.dumps(config["route"])
    assert am.PLATFORM_PAGER not in json.dumps(config["route"])
    receiver = next(r for r in config["receivers"] if r["name"] == am.PAGES_PAGING_DISABLED)
    assert "paging disabled" in receiver["slack_configs"][0]["title"]


def test_watchdog_goes_to_the_dead_mans_switch_every_minute(tmp_path):
    config = am.alertmanager_config("prod", True, TEAMS, dead_mans_switch_url="https://deadman.example/ping/abc")
    config_file = _write(tmp_path, config)
    assert _receivers(config_file, "alertname=Watchdog", "severity=none", "team=ml-platform") == [am.DEAD_MANS_SWITCH]
    route = next(r for r in config["route"]["routes"] if r["receiver"] == am.DEAD_MANS_SWITCH)
    assert route["repeat_interval"] == "1m"
    switch = next(r for r in config["receivers"] if r["name"] == am.DEAD_MANS_SWITCH)
    assert switch["webhook_configs"][0]["url"] == "https://deadman.example/ping/abc"


def test_secrets_are_read_from_mounted_files_never_inlined():
    config = am.alertmanager_config("prod", True, TEAMS)
    text = json.dumps(config)
    for inline_field in ('"routing_key"', '"service_key"', '"api_url"'):
        assert inline_field not in text
    files = {c["routing_key_file"] for r in config["receivers"] for c in r.get("pagerduty_configs", [])}
    assert files == {f"/etc/alertmanager/secrets/{am.PAGERDUTY_SECRET}/{key}"
                     for key in am.pagerduty_secret_keys(TEAMS)}
    assert am.pagerduty_secret_keys(TEAMS) == ["routing-key-platform", "routing-key-recommendations",
                                               "routing-key-search"]
    slack = {c["api_url_file"] for r in config["receivers"] for c in r.get("slack_configs", [])}
    assert slack == {f"/etc/alertmanager/secrets/{am.SLACK_SECRET}/{am.SLACK_WEBHOOK_KEY}"}


def test_pagerduty_events_use_a_severity_pagerduty_accepts():
    config = am.alertmanager_config("prod", True, TEAMS)
    events = [pd for receiver in config["receivers"] for pd in receiver.get("pagerduty_configs", [])]
    assert len(events) >= len(TEAMS)  # a PagerDuty receiver per team at least
    for pd in events:
        assert pd["severity"] in {"critical", "error", "warning", "info"}


def test_page_inhibits_the_ticket_of_the_same_alert_and_model():
    rules = am.alertmanager_config("prod", True, TEAMS)["inhibit_rules"]
    assert {"source_matchers": ['severity="page"'], "target_matchers": ['severity="ticket"'],
            "equal": ["alertname", "namespace", "model"]} in rules
    cluster = next(r for r in rules if r["source_matchers"] == ['alertname="ClusterScrapeTargetsDown"'])
    assert "ModelTargetDown" in cluster["target_matchers"][0]


def _templates(config: dict) -> list[str]:
    out = []
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            out += [slack["title"], slack["text"]]
        for pd in receiver.get("pagerduty_configs", []):
            out += [pd["description"], *pd["details"].values()]
    return out


def test_notification_templates_render(tmp_path):
    (tmp_path / "none.tmpl").write_text('{{ define "none" }}{{ end }}')
    alert = {"status": "firing", "labels": {"alertname": "ModelNoTraffic", "model": "recsys", "severity": "page"},
             "annotations": {"summary": "recsys: no requests", "description": "none for 10 minutes",
                             "runbook": "check the ingress"}}
    data = {"receiver": "x", "status": "firing", "alerts": [alert], "groupLabels": {},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"], "externalURL": "http://am"}
    (tmp_path / "data.json").write_text(json.dumps(data))
    for paging in (True, False):
        for template in _templates(am.alertmanager_config("prod", paging, TEAMS)):
            result = run(tool("amtool"), "template", "render", f"--template.glob={tmp_path / 'none.tmpl'}",
                         f"--template.data={tmp_path / 'data.json'}", f"--template.text={template}")
            assert result.returncode == 0, f"{template!r}: {result.stderr}"
    title = next(r for r in am.alertmanager_config("prod", True, TEAMS)["receivers"] if r["name"] == am.TICKETS)
    result = run(tool("amtool"), "template", "render", f"--template.glob={tmp_path / 'none.tmpl'}",
                 f"--template.data={tmp_path / 'data.json'}", f"--template.text={title['slack_configs'][0]['title']}")
    assert result.stdout.strip() == "[prod] [FIRING] ModelNoTraffic recsys"


@pytest.mark.parametrize("bad", [dict(environment="Prod"), dict(teams=["Recommendations"]), dict(teams=["a b"])])
def test_rejects_names_that_cannot_be_secret_keys(bad):
    args = {"environment": "prod", "paging_enabled": True, "teams": TEAMS, **bad}
    with pytest.raises(ValueError):
        am.alertmanager_config(**args)
