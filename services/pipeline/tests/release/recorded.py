"""Recorded executor series for the canary analysis tests, written as OpenMetrics for
`promtool tsdb create-blocks-from openmetrics`.

Each scenario is its own SeldonDeployment (deployment_name = namespace = model), scraped every
15 s for 30 minutes; the analysis window is the last 10 minutes. Counts per scrape are chosen so
the expected ratio and p99 follow from the numbers below, not from Prometheus's output.
"""
from __future__ import annotations

from dataclasses import dataclass

from observability.metrics_contract import EXECUTOR_BUCKETS
from observability.release_queries import EXECUTOR

START = 1_767_225_600  # 2026-01-01T00:00:00Z
SCRAPE_SECONDS = 15
DURATION_SECONDS = 30 * 60
END = START + DURATION_SECONDS
WINDOW = "10m"

# Latency distributions: cumulative share of requests at or below each bucket boundary.
FAST = {0.005: 0.2, 0.01: 0.5, 0.025: 0.9, 0.05: 0.995}          # p99 inside (25 ms, 50 ms]
# 75% <= 50 ms, the rest <= 100 ms: p99 = 50 + (0.99-0.75)/0.25 * 50 = 98 ms, under a 100 ms SLO.
P99_98MS = {0.05: 0.75, 0.1: 1.0}
# 98.9% <= 100 ms, the rest <= 250 ms: p99 = 100 + (0.99-0.989)/0.011 * 150 = 113.6 ms, over it.
P99_114MS = {0.05: 0.75, 0.1: 0.989, 0.25: 1.0}
# 98% <= 250 ms, the rest <= 500 ms: p99 = 250 + (0.99-0.98)/0.02 * 250 = 375 ms.
P99_375MS = {0.1: 0.5, 0.25: 0.98, 0.5: 1.0}
# 98.95% <= 100 ms, the rest <= 250 ms: p99 = 100 + (0.99-0.9895)/0.0105 * 150 = 107.1 ms.
P99_107MS = {0.05: 0.75, 0.1: 0.9895, 0.25: 1.0}


@dataclass(frozen=True)
class Traffic:
    requests_per_scrape: float
    error_ratio: float = 0.0
    latency: dict = None  # cumulative share per bucket boundary; FAST when None
    failing_from: int = 0  # seconds after START: the error ratio applies from then on, none before

    def share(self, code: str, at: int) -> float:
        """The share of the requests served between scrape `at` and the next answered with `code`."""
        failing = self.error_ratio if at - START >= self.failing_from else 0.0
        return failing if code == "500" else 1 - failing


@dataclass(frozen=True)
class Scenario:
    model: str
    stable: Traffic | None
    canary: Traffic | None


# 10 minutes = 40 scrapes: a canary at 1000 requests per scrape serves ~40 000 in the window.
SCENARIOS = (
    Scenario("healthy", Traffic(9000, 0.001), Traffic(1000, 0.002)),
    Scenario("failing", Traffic(9000, 0.001), Traffic(1000, 0.02)),
    Scenario("edge-under", Traffic(9000, 0.0), Traffic(1000, 0.0099)),
    Scenario("edge-over", Traffic(9000, 0.0), Traffic(1000, 0.0101)),
    Scenario("slow-under", Traffic(9000, 0.0), Traffic(1000, 0.0, P99_98MS)),
    Scenario("slow-over", Traffic(9000, 0.0), Traffic(1000, 0.0, P99_114MS)),
    # The same canary while the stable predictor is over the SLO too: slower still (saturated
    # nodes), or a little faster than the canary.
    Scenario("slow-both", Traffic(9000, 0.0, P99_375MS), Traffic(1000, 0.0, P99_114MS)),
    Scenario("slow-canary-slower", Traffic(9000, 0.0, P99_107MS), Traffic(1000, 0.0, P99_114MS)),
    # 40 scrapes x 2 = ~80 canary requests in 10 minutes, under the 100 needed; all of them fail.
    Scenario("quiet", Traffic(9000, 0.0), Traffic(2, 1.0)),
    Scenario("quiet-min-50", Traffic(9000, 0.0), Traffic(2, 1.0)),
    # The edge-over traffic again, for a model whose pushed metrics are checked on their own.
    Scenario("pushed", Traffic(9000, 0.0), Traffic(1000, 0.0101)),
    # The healthy and failing traffic again, analysed with checks during the window.
    Scenario("healthy-checked", Traffic(9000, 0.001), Traffic(1000, 0.002)),
    Scenario("failing-checked", Traffic(9000, 0.001), Traffic(1000, 0.02)),
    # Healthy for the window's first 5 minutes, then 5% failing: over the whole window 2.5%.
    Scenario("late-failing", Traffic(9000, 0.0), Traffic(1000, 0.05, failing_from=DURATION_SECONDS - 5 * 60)),
    # No canary series at all (the canary predictor receives nothing).
    Scenario("silent", Traffic(9000, 0.0), None),
)


def _cdf(latency: dict | None) -> list[tuple[str, float]]:
    shares = latency or FAST
    points, last = [], 0.0
    for bound in EXECUTOR_BUCKETS:
        last = max(last, shares.get(bound, last))
        points.append((f"{bound:g}", last))
    points.append(("+Inf", 1.0))
    return points


def openmetrics() -> str:
    families: dict[str, list[str]] = {f"{EXECUTOR}_{suffix}": [] for suffix in ("bucket", "count", "sum")}
    scrapes = DURATION_SECONDS // SCRAPE_SECONDS + 1
    for scenario in SCENARIOS:
        for predictor, traffic, alias in (("stable", scenario.stable, "champion"),
                                          ("canary", scenario.canary, "challenger")):
            if traffic is None:
                continue
            for code in ("200", "500"):
                labels = (f'namespace="{scenario.model}",deployment_name="{scenario.model}",'
                          f'predictor_name="{predictor}",predictor_version="{alias}",method="POST",code="{code}"')
                total = 0.0
                for i in range(scrapes):
                    at = START + i * SCRAPE_SECONDS
                    families[f"{EXECUTOR}_count"].append(f"{EXECUTOR}_count{{{labels}}} {total:.6f} {at}")
                    families[f"{EXECUTOR}_sum"].append(f"{EXECUTOR}_sum{{{labels}}} {total * 0.02:.6f} {at}")
                    for le, cumulative in _cdf(traffic.latency):
                        families[f"{EXECUTOR}_bucket"].append(
                            f'{EXECUTOR}_bucket{{{labels},le="{le}"}} {total * cumulative:.6f} {at}')
                    total += traffic.requests_per_scrape * traffic.share(code, at)
    lines = []
    for name, samples in families.items():
        lines += [f"# TYPE {name} gauge", *samples]
    return "\n".join(lines) + "\n# EOF\n"
