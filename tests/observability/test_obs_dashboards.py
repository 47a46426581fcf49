"""Dashboards are valid, deterministic Grafana JSON covering what the issue asks for."""

from __future__ import annotations

import json

from obs_support import dashboard_queries
from observability.dashboards import SIDECAR_LABEL, build_dashboards, render_dashboards

EXPECTED = {"mlops-slo.json", "mlops-red.json", "mlops-capacity.json", "mlops-cache.json", "mlops-gpu.json",
            "mlops-pipeline.json"}


def _titles(board: dict) -> list[str]:
    return [panel["title"] for panel in board["panels"]]


def test_six_dashboards_with_stable_unique_uids():
    boards = build_dashboards()
    assert set(boards) == EXPECTED
    uids = [board["uid"] for board in boards.values()]
    assert sorted(uids) == sorted(name.removesuffix(".json") for name in EXPECTED)
    assert all(len(uid) <= 40 for uid in uids)
    assert SIDECAR_LABEL == {"grafana_dashboard": "1"}


def test_rendered_json_is_valid_and_deterministic():
    first = render_dashboards()
    assert first == render_dashboards()
    assert sorted(first) == sorted(EXPECTED)
    for name, text in first.items():
        board = json.loads(text)
        assert text == json.dumps(board, indent=2, sort_keys=True) + "\n", f"{name} keys are not sorted"
        assert board["title"].startswith("MLOps / ")


def test_every_panel_queries_prometheus_and_has_options():
    boards = build_dashboards()
    assert sorted(boards) == sorted(EXPECTED)
    for name, board in boards.items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) >= 3, f"{name} has {len(ids)} panels"
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, (name, panel["title"])
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), (name, panel["title"])
            assert isinstance(panel["options"], dict), (name, panel["title"])
            assert panel["gridPos"]["w"] > 0 and panel["gridPos"]["h"] > 0


def test_model_selector_lists_the_models_that_report_so_onboarding_changes_no_dashboard():
    pickers = [variable for board in build_dashboards().values()
               for variable in board.get("templating", {}).get("list", []) if variable["name"] == "model"]
    assert len(pickers) >= 2  # at least the SLO and RED dashboards pick a model
    for variable in pickers:
        assert variable["type"] == "query"
        assert variable["query"] == "label_values(model_server_model_info, model)"


def test_slo_dashboard_shows_availability_budget_and_burn():
    titles = " ".join(_titles(build_dashboards()["mlops-slo.json"])).lower()
    for word in ("availability", "budget left", "burn rate", "latency"):
        assert word in titles


def test_red_dashboard_splits_predictors_and_draws_the_100ms_line():
    board = build_dashboards()["mlops-red.json"]
    latency = next(p for p in board["panels"] if p["title"] == "Latency p50 / p95 / p99")
    legends = [t["legendFormat"] for t in latency["targets"]]
    assert legends == ["p50 {{predictor_name}}", "p95 {{predictor_name}}", "p99 {{predictor_name}}"]
    steps = latency["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": "red", "value": 0.1} in steps
    assert latency["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"


def test_each_dashboard_covers_its_subject():
    boards = build_dashboards()
    subjects = {
        "mlops-capacity.json": ["kube_horizontalpodautoscaler_spec_max_replicas", "container_cpu_usage_seconds_total",
                                "kube_pod_container_resource_requests", "model_server_requests_total"],
        "mlops-cache.json": ['result="hit"', 'result="error"'],
        "mlops-gpu.json": ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"],
        "mlops-pipeline.json": ["mlops_training_last_success_timestamp_seconds", "mlops_data_drift_share",
                                'stage="production"'],
    }
    for name, needles in subjects.items():
        text = "\n".join(dashboard_queries(boards[name]))
        for needle in needles:
            assert needle in text, f"{name} has no query with {needle}"


def test_gpu_panels_draw_the_alert_thresholds_in_the_units_of_their_series():
    import re
    from pathlib import Path

    import yaml

    rules = yaml.safe_load((Path(__file__).resolve().parents[2] / "observability/rules/gpu.rules.yaml").read_text())
    exprs = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    threshold = {name: float(re.search(r"[<>]\s*([\d.]+)\s*$", expr.strip()).group(1)) for name, expr in exprs.items()}
    assert len(threshold) == 3
    panels = {p["title"]: p for p in build_dashboards()["mlops-gpu.json"]["panels"]}
    utilisation, memory = panels["GPU utilisation"], panels["GPU memory used"]
    # DCGM_FI_DEV_GPU_UTIL is 0-100 (percent); used / (used + free) is a ratio (percentunit).
    assert (utilisation["fieldConfig"]["defaults"]["unit"], memory["fieldConfig"]["defaults"]["unit"]) == (
        "percent", "percentunit")
    lines = [s["value"] for s in utilisation["fieldConfig"]["defaults"]["thresholds"]["steps"] if s["value"] is not None]
    assert lines == [threshold["GPUNodeIdle"], threshold["GPUNodeSaturated"]]
    memory_lines = [s["value"] for s in memory["fieldConfig"]["defaults"]["thresholds"]["steps"] if s["value"] is not None]
    assert memory_lines == [threshold["GPUMemoryNearlyFull"]]
    assert [t["legendFormat"] for t in utilisation["targets"]] == ["{{Hostname}} GPU {{gpu}}"]
