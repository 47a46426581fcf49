"""Canary analysis: the canary's and the stable predictor's requests, error ratio and p99 over one
window, read from Prometheus with the alert rules' own expressions, and the decision they imply.

Decision table (thresholds from observability/release_queries.py and the model's SLO):

    canary requests < min_requests                    -> wait      (no traffic is never healthy)
    canary error ratio > max_error_ratio (1%)          -> rollback
    canary p99 > the model's SLO p99 and > stable p99  -> rollback
    otherwise                                          -> promote

The stable predictor is measured over the same window and reported beside the canary, so a
decision shows whether the canary is worse than what it would replace. Latency is judged against
it as well as against the SLO, as Kayenta-style canary analysis compares canary with baseline:
when the stable predictor is as slow (the nodes are saturated, the cache is cold), rolling the
canary back changes nothing for customers, and the SLO's own alert (ModelP99LatencyHigh) pages
for the latency. Errors are judged on their own: the seed rolls back above 1% whatever the
stable does.

Checked during the window, not only at its end (`check_times`): at every tenth of the window the
table is applied to what the canary has served since the window began, and a rollback is decided
at the first check that calls for one; promote is only decided over the whole window. A bad
canary is then answered within a tenth of the window after it has served `min_requests`, not at
the window's end: with the 5-minute window, 30 s instead of 5 minutes of the seed's 8-minute
recovery budget. (Looking repeatedly raises the chance of rolling back a healthy canary on a
noisy check; the minimum request count bounds that, and a needless rollback costs one retraining
cycle, a missed one costs customers.)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import requests

from observability.release_queries import (CANARY_MAX_ERROR_RATIO, CANARY_MIN_REQUESTS, error_ratio,
                                           executor_selector, latency_quantile, request_count)

PROMOTE, ROLLBACK, WAIT = "promote", "rollback", "wait"
PREDICTORS = ("canary", "stable")


class PrometheusError(RuntimeError):
    """Prometheus could not be asked, or answered something other than one number."""


@dataclass(frozen=True)
class Window:
    """One predictor over the analysis window. None: no sample (no requests in the window)."""
    requests: float | None
    error_ratio: float | None
    p99_seconds: float | None


@dataclass(frozen=True)
class Thresholds:
    p99_seconds: float
    max_error_ratio: float = CANARY_MAX_ERROR_RATIO
    min_requests: float = CANARY_MIN_REQUESTS


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str


def decide(canary: Window, stable: Window, limits: Thresholds) -> Verdict:
    """promote / rollback / wait for one window (table in the module docstring).

    Strict comparisons: an error ratio of exactly 1% or a p99 exactly at the SLO (or exactly the
    stable's) passes, as in the alert rules (`> 0.01`, `> 0.1`).
    """
    vs_stable = (f"stable: {_count(stable.requests)} requests, {_percent(stable.error_ratio)} errors, "
                 f"p99 {_seconds(stable.p99_seconds)}")
    if canary.requests is None or canary.requests < limits.min_requests:
        return Verdict(WAIT, f"canary served {_count(canary.requests)} requests, fewer than the "
                             f"{limits.min_requests:g} needed to judge it ({vs_stable})")
    if canary.error_ratio is not None and canary.error_ratio > limits.max_error_ratio:
        return Verdict(ROLLBACK, f"canary error ratio {_percent(canary.error_ratio)} > "
                                 f"{_percent(limits.max_error_ratio)} ({vs_stable})")
    if (canary.p99_seconds is not None and canary.p99_seconds > limits.p99_seconds
            and (stable.p99_seconds is None or canary.p99_seconds > stable.p99_seconds)):
        return Verdict(ROLLBACK, f"canary p99 {_seconds(canary.p99_seconds)} > SLO "
                                 f"{_seconds(limits.p99_seconds)} and slower than the stable ({vs_stable})")
    return Verdict(PROMOTE, f"canary: {_count(canary.requests)} requests, {_percent(canary.error_ratio)} errors, "
                            f"p99 {_seconds(canary.p99_seconds)} within the limits ({vs_stable})")


class Prometheus:
    """Instant queries against Prometheus's HTTP API (/api/v1/query)."""

    def __init__(self, url: str, timeout_seconds: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout_seconds

    def value(self, expr: str, at: float) -> float | None:
        """The single sample `expr` yields at Unix time `at`; None for no sample or NaN (0/0)."""
        try:
            response = requests.get(f"{self.url}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"},
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusError(f"Prometheus at {self.url} is unreachable: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"Prometheus at {self.url} answered HTTP {response.status_code} "
                                  "without a JSON body") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus rejected the query ({body.get('error', response.status_code)}): {expr}")
        result = body["data"]["result"]
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"expected one series, got {len(result)}: {expr}")
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value


def check_times(window_end: float, window_seconds: float, checks: int) -> list[float]:
    """The moments (Unix seconds) at which a canary is analysed: `checks` evenly spaced moments,
    the last one `window_end`, the window being the `window_seconds` before it.

    checks=1 is one analysis at the window's end. Raises ValueError for checks < 1 or a check
    interval under one second (Prometheus's durations are whole seconds at least)."""
    if checks < 1:
        raise ValueError(f"checks must be >= 1 (got {checks})")
    if window_seconds / checks < 1:
        raise ValueError(f"{checks} checks over {window_seconds:g} s are less than a second apart")
    start = window_end - window_seconds
    return [start + window_seconds * k / checks for k in range(1, checks + 1)]


def measure(prometheus: Prometheus, namespace: str, model: str, predictor: str, window: str, at: float) -> Window:
    """Requests, error ratio and p99 of one predictor over `window` ending at `at` (Unix seconds)."""
    selector = executor_selector(namespace, model, predictor)
    return Window(
        requests=prometheus.value(request_count(selector, window), at),
        error_ratio=prometheus.value(error_ratio(selector, window), at),
        p99_seconds=prometheus.value(latency_quantile(selector, window), at),
    )


def as_dict(window: Window) -> dict:
    return asdict(window)


def _count(value: float | None) -> str:
    return "0" if value is None else f"{value:.0f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f} ms"
