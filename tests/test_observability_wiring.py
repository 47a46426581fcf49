"""The observability stack as the program declares it: release, rules, dashboards, paging."""
import json

import yaml

from preview_run import of_type, one, run_preview
from tools.stack_files import STACKS_DIR


def release(resources, chart):
    return next(r["inputs"] for r in of_type(resources, "kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == chart)


def test_kube_prometheus_stack_picks_up_project_rules_and_monitors(stacks):
    for stack, resources in stacks.items():
        values = release(resources, "kube-prometheus-stack")["values"]
        spec = values["prometheus"]["prometheusSpec"]
        assert spec["ruleSelectorNilUsesHelmValues"] is False
        assert spec["podMonitorSelectorNilUsesHelmValues"] is False
        assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3-encrypted"
        assert spec["replicas"] == (1 if stack == "dev" else 2)
        assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
        receivers = {r["name"] for r in values["alertmanager"]["config"]["receivers"]}
        assert "tickets-slack" in receivers


def test_platform_and_model_rules_become_prometheus_rules(stacks):
    for resources in stacks.values():
        rules = {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in
                 of_type(resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")}
        assert {"platform-cache", "platform-gpu", "platform-kafka", "platform-kubernetes", "model-recsys"} <= set(rules)
        alerts = {rule.get("alert") for group in rules["model-recsys"]["groups"] for rule in group["rules"]}
        assert {"ModelAvailabilityBudgetBurn", "ModelCanaryErrorRateHigh", "ModelTrainingStale"} <= alerts


def test_dashboards_are_sidecar_configmaps_of_valid_json(stacks):
    for resources in stacks.values():
        maps = [r["inputs"] for r in of_type(resources, "kubernetes:core/v1:ConfigMap")
                if r["inputs"]["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
        assert len(maps) == 6
        for m in maps:
            (body,) = m["data"].values()
            assert json.loads(body)["uid"]


def test_without_token_paging_is_off_and_said(stacks):
    for stack, resources in stacks.items():
        assert not of_type(resources, "pagerduty:index/service:Service")
        alertmanager = release(resources, "kube-prometheus-stack")["values"]["alertmanager"]
        assert alertmanager["alertmanagerSpec"]["secrets"] == ["alertmanager-slack"]
        # The PagerDuty receiver is in every stack's configuration, unrouted until paging is on.
        receivers = {r["name"]: r for r in alertmanager["config"]["receivers"]}
        key_file = receivers["pagerduty-recommendations"]["pagerduty_configs"][0]["routing_key_file"]
        assert key_file == "/etc/alertmanager/secrets/alertmanager-pagerduty/routing-key-recommendations"
        assert "pagerduty-recommendations" not in json.dumps(alertmanager["config"]["route"]), stack


def test_with_token_each_team_gets_a_pagerduty_service_feeding_the_secret(tmp_path):
    doc = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())
    doc["config"]["pagerduty:token"] = "token-for-test"
    doc["config"]["mlops:observability"] = {"pagerdutyEscalationPolicy": "PABC123"}
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    result = run_preview(tmp_path / "out", "prod", stack_file=stack_file)
    assert result.returncode == 0, result.stderr
    assert "paging is off" not in result.stdout
    resources = json.loads((tmp_path / "out" / "prod" / "resources.json").read_text())
    services = {r["inputs"]["name"] for r in of_type(resources, "pagerduty:index/service:Service")}
    assert services == {"xyz-mlops-prod platform", "xyz-mlops-prod recommendations"}
    integrations = of_type(resources, "pagerduty:index/serviceIntegration:ServiceIntegration")
    assert {i["inputs"]["type"] for i in integrations} == {"events_api_v2_inbound_integration"}
    secret = one(resources, "kubernetes:core/v1:Secret", "observability-pagerduty")["inputs"]
    assert secret["stringData"] == {"routing-key-platform": "[secret]", "routing-key-recommendations": "[secret]"}
    values = release(resources, "kube-prometheus-stack")["values"]
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == ["alertmanager-slack", "alertmanager-pagerduty"]


def test_preview_prints_paging_off(tmp_path):
    result = run_preview(tmp_path / "out", "dev")
    assert result.returncode == 0, result.stderr
    assert "warning: dev: paging is off (no pagerduty:token): pages go to the ticket channel" in result.stdout
