"""The canary queries: the PromQL the canary alerts evaluate and the release controller asks.

One set of expressions, imported by `observability.model_rules` (the ModelCanaryErrorRateHigh
and ModelP99LatencyHigh alerts) and by the release controller (`python -m pipeline release
<model> analyze`), so a canary the controller promotes is one the alerts call healthy on the
same series: the Seldon executor's histogram, per predictor (`stable`, `canary`).

Standard library only: the pipeline image copies this file and `metrics_contract.py`.
"""

from __future__ import annotations

from observability.metrics_contract import EXECUTOR_ERROR_CODES

EXECUTOR = "seldon_api_executor_server_requests_seconds"
# The seed's release checklist: roll back a canary that fails more than 1% of its requests.
CANARY_MAX_ERROR_RATIO = 0.01
# Below this many canary requests in the window one failed request is already 1%: not enough
# evidence to page anyone, nor to call a canary healthy.
CANARY_MIN_REQUESTS = 100


def executor_selector(namespace: str, model: str, predictor: str | None = None) -> str:
    """Label matchers (no braces) for one SeldonDeployment's executor series, optionally one predictor."""
    selector = f'namespace="{namespace}",deployment_name="{model}"'
    return selector if predictor is None else f'{selector},predictor_name="{predictor}"'


def error_ratio(selector: str, window: str) -> str:
    """Share (0..1) of the selected requests that failed over `window`; no requests gives no sample."""
    count = f"{EXECUTOR}_count"
    return (f'(\n  (\n    sum(rate({count}{{{selector},code=~"{EXECUTOR_ERROR_CODES}"}}[{window}]))\n'
            f"    or vector(0)\n  )\n  /\n  sum(rate({count}{{{selector}}}[{window}]))\n)")


def request_count(selector: str, window: str) -> str:
    """Requests over `window` (increase of the histogram's count, extrapolated by Prometheus)."""
    return f"sum(increase({EXECUTOR}_count{{{selector}}}[{window}]))"


def latency_quantile(selector: str, window: str, quantile: float = 0.99) -> str:
    """Latency quantile in seconds per predictor over `window`, interpolated inside the executor's buckets."""
    return (f"histogram_quantile({quantile:g},\n  sum by (predictor_name, le) "
            f"(rate({EXECUTOR}_bucket{{{selector}}}[{window}]))\n)")
