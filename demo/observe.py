"""What the local Prometheus saw over the run: the canary analysis's own queries per predictor
over time, and the alerts of the platform's rule files (firing, pending, never active)."""
from __future__ import annotations

import requests

from observability.release_queries import error_ratio, executor_selector, latency_quantile

# The plots' resolution: a rate over 10 one-second scrapes, one point per second.
PLOT_WINDOW, STEP_SECONDS = "10s", 1


def _range(prometheus: str, expr: str, start: float, end: float) -> list[dict]:
    response = requests.get(f"{prometheus}/api/v1/query_range", timeout=30,
                            params={"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": STEP_SECONDS})
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus rejected {expr}: {body.get('error')}")
    return body["data"]["result"]


def series(prometheus: str, model: str, start: float, end: float) -> dict:
    """{predictor: {"error_ratio": [[t, v]...], "p99_seconds": [[t, v]...]}} over [start, end]."""
    out = {}
    for predictor in ("stable", "canary"):
        selector = executor_selector(model, model, predictor)
        out[predictor] = {}
        for name, expr in (("error_ratio", error_ratio(selector, PLOT_WINDOW)),
                           ("p99_seconds", latency_quantile(selector, PLOT_WINDOW))):
            result = _range(prometheus, expr, start, end)
            out[predictor][name] = [[float(t), float(v)] for t, v in (result[0]["values"] if result else [])
                                    if v not in ("NaN", "+Inf")]
    return out


def alerts(prometheus: str, start: float, end: float) -> dict:
    """{"firing": [...], "pending": [...], "silent": [...]}: every alerting rule loaded, by the
    highest state its ALERTS series reached during [start, end]."""
    rules = requests.get(f"{prometheus}/api/v1/rules", params={"type": "alert"}, timeout=30).json()
    names = sorted({r["name"] for g in rules["data"]["groups"] for r in g["rules"]})
    seen: dict[str, str] = {}
    for result in _range(prometheus, "max by (alertname, alertstate) (ALERTS)", start, end):
        name, state = result["metric"]["alertname"], result["metric"]["alertstate"]
        if seen.get(name) != "firing":
            seen[name] = state
    return {"rules": len(names),
            "firing": sorted(n for n, s in seen.items() if s == "firing"),
            "pending": sorted(n for n, s in seen.items() if s == "pending"),
            "silent": [n for n in names if n not in seen]}
