"""Multi-window, multi-burn-rate policy (Google SRE workbook, "Alerting on SLOs", option 6).

A burn rate of 1 spends exactly the error budget over the 30-day SLO window. Each alert
condition needs a long window (is the budget really burning?) and a short window, 1/12 of
the long one (is it still burning?), so an alert resets within minutes of recovery.
"""

from __future__ import annotations

from dataclasses import dataclass

SLO_WINDOW = "30d"  # the budget period; Prometheus retention must cover it for the dashboards


@dataclass(frozen=True)
class BurnCondition:
    long_window: str
    short_window: str
    factor: float


@dataclass(frozen=True)
class BurnAlert:
    severity: str
    for_: str
    conditions: tuple[BurnCondition, ...]


BURN_ALERTS = (
    # 14.4x for 1h spends 2% of the 30-day budget; 6x for 6h spends 5%: wake someone up.
    BurnAlert("page", "2m", (BurnCondition("1h", "5m", 14.4), BurnCondition("6h", "30m", 6.0))),
    # 3x for 1d spends 10%; 1x for 3d spends 10%: slow leaks, handled in working hours.
    BurnAlert("ticket", "15m", (BurnCondition("1d", "2h", 3.0), BurnCondition("3d", "6h", 1.0))),
)

# Every window a burn condition reads, plus the SLO window for the dashboards.
ALERT_WINDOWS = tuple(sorted(
    {w for alert in BURN_ALERTS for c in alert.conditions for w in (c.long_window, c.short_window)},
    key=lambda w: {"m": 60, "h": 3600, "d": 86400}[w[-1]] * int(w[:-1]),
))

ERRORS_RECORD = "model:executor_request_errors:ratio_rate"
SLOW_RECORD = "model:executor_requests_slow:ratio_rate"
OBJECTIVE_RECORD = "model:slo_objective:ratio"


def number(value: float) -> str:
    """PromQL literal without float noise (1 - 0.999 is 0.0010000000000000009 in binary)."""
    return f"{value:.6g}"


def burn_expr(record_prefix: str, selector: str, budget: float, alert: BurnAlert) -> str:
    branches = [
        f"(\n  {record_prefix}{c.long_window}{selector} > {number(c.factor)} * {number(budget)}\n"
        f"  and\n  {record_prefix}{c.short_window}{selector} > {number(c.factor)} * {number(budget)}\n)"
        for c in alert.conditions
    ]
    return "\nor\n".join(branches) + "\n"
