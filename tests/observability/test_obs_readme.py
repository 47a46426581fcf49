"""The Operations section documents every alert and every metric of the contract."""

from __future__ import annotations

from obs_support import MODEL_RENDERS, PLATFORM_RULE_FILES, REPO, alert_rules, load
from observability.metrics_contract import CONTRACT
from observability.model_rules import model_rule_groups

README = (REPO / "observability" / "README.md").read_text()


def _alert_rows() -> dict[str, set[str]]:
    """Alert name -> severities in the README's alert table."""
    rows: dict[str, set[str]] = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and cells[3] in {"page", "ticket", "none"}:
            rows.setdefault(cells[0].strip("`"), set()).add(cells[3])
    return rows


def test_every_alert_and_severity_has_a_row():
    rules = [rule for path in PLATFORM_RULE_FILES for rule in alert_rules(load(path))]
    rules += alert_rules(model_rule_groups(**MODEL_RENDERS["recsys"]))
    expected: dict[str, set[str]] = {}
    for rule in rules:
        expected.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert _alert_rows() == expected


def test_every_contract_metric_is_documented():
    for metric in CONTRACT:
        assert f"| `{metric.name}` |" in README, metric.name


def test_secret_names_match_the_code():
    from observability import alertmanager as am

    for text in (am.PAGERDUTY_SECRET, am.PLATFORM_ROUTING_KEY, am.SLACK_SECRET, am.SLACK_WEBHOOK_KEY,
                 am.PAGES_PAGING_DISABLED, "routing-key-<team>"):
        assert text in README, text
