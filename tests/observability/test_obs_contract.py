"""Rules and dashboards read only what the metric contract promises, and read all of it."""

from __future__ import annotations

from obs_support import (MODEL_RENDERS, PLATFORM_RULE_FILES, all_rules, dashboard_queries, load, metric_names,
                         selector_labels)
from observability.dashboards import build_dashboards
from observability.metrics_contract import CONTRACT, by_name, series_names
from observability.model_rules import model_rule_groups

# Labels every scraped series gets from Prometheus/prometheus-operator, whatever the exporter.
SCRAPE_LABELS = {"namespace", "pod", "job", "instance", "container", "service"}


def _rule_exprs() -> list[tuple[str, str]]:
    files = {path.name: load(path) for path in PLATFORM_RULE_FILES}
    files["recsys (model_rule_groups)"] = model_rule_groups(**MODEL_RENDERS["recsys"])
    return [(name, rule["expr"]) for name, doc in files.items() for rule in all_rules(doc)]


def _recorded() -> set[str]:
    return {rule["record"] for rule in all_rules(model_rule_groups(**MODEL_RENDERS["recsys"])) if "record" in rule}


def _dashboard_exprs() -> list[tuple[str, str]]:
    return [(name, q) for name, board in build_dashboards().items() for q in dashboard_queries(board)]


def test_rules_read_only_contract_metrics_or_recorded_series():
    allowed = series_names() | _recorded()
    assert len(_rule_exprs()) >= 20  # every platform rule file and the model rules
    for where, expr in _rule_exprs():
        unknown = metric_names(expr) - allowed
        assert not unknown, f"{where}: {sorted(unknown)} not in observability/metrics_contract.py"


def test_dashboards_read_only_contract_metrics_or_recorded_series():
    allowed = series_names() | _recorded()
    assert len(_dashboard_exprs()) >= 20  # six dashboards of several panels each
    for where, expr in _dashboard_exprs():
        unknown = metric_names(expr) - allowed
        assert not unknown, f"{where}: {sorted(unknown)} not in the contract ({expr})"


def test_every_contract_metric_is_read_by_a_rule_or_a_dashboard():
    read = set().union(*(metric_names(expr) for _, expr in _rule_exprs() + _dashboard_exprs()))
    unused = [m.name for m in CONTRACT if not set(m.series_names()) & read]
    assert not unused, f"contract metrics nothing reads: {unused}"


def test_selectors_match_on_labels_the_contract_promises():
    contract = by_name()
    family = {series: metric for metric in CONTRACT for series in metric.series_names()}
    checked = 0
    for where, expr in _rule_exprs() + _dashboard_exprs():
        for series, labels in selector_labels(expr):
            if series not in family:
                continue
            checked += 1
            promised = set(contract[family[series].name].labels) | SCRAPE_LABELS
            assert labels <= promised, f"{where}: {series} matched on {sorted(labels - promised)}"
    assert checked >= 20, f"only {checked} selectors of contract metrics were checked"
