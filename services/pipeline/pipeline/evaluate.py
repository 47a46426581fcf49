"""Offline evaluation on the holdout and the release gates.

Scored through the exported ONNX models (what serving will run): the candidate, the current
champion re-scored on the same holdout (its ONNX from the registry), and popularity from the
training window. Evaluated customers: those in the holdout that the candidate saw in training
(a cold-start customer gets the popularity ranking from every model, so it cannot tell them apart).

Gates (the seed's validation stage), each recorded with its measured value:
  accuracy      HR@10(candidate) >= HR@10(baseline) + min_improvement, baseline = the champion
                when one exists, else popularity (min_improvement: the model file's
                gates.minImprovement, default 0.02 absolute, the seed's "accuracy >= baseline + 2%");
  schema        the validation report of the training window passed ("no schema drift");
  latency_p99   p99 of single-customer requests to the exported model in onnxruntime, opened as
                the serving image opens it, under a short sequential load < p99_ms (seed: 100 ms).
"""
from __future__ import annotations

import time

import numpy as np
import polars as pl

from . import onnx_export

K = 10
MIN_IMPROVEMENT = 0.02
P99_MS = 100.0
LATENCY_REQUESTS = 2000


def popularity_topk(popularity: pl.DataFrame, n: int, k: int) -> np.ndarray:
    top = popularity.sort(["score", "sku"], descending=[True, False])["sku"].head(k).to_numpy()
    return np.tile(top, (n, 1))


def onnx_topk(sess, customers: list[str], k: int, batch: int = 1024) -> np.ndarray:
    parts = [onnx_export.recommend(sess, customers[lo:lo + batch], k)[0] for lo in range(0, len(customers), batch)]
    return np.concatenate(parts) if parts else np.empty((0, k), dtype=object)


def latency_p99_ms(sess, customers: list[str], requests: int, k: int, seed: int) -> dict:
    """Sequential single-customer calls (the serving image answers one request per worker at a time)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.asarray(customers, dtype=object), size=requests)
    for customer in picks[:50]:  # warm-up: first calls allocate
        onnx_export.recommend(sess, [customer], k)
    timings = np.empty(requests)
    for i, customer in enumerate(picks):
        started = time.perf_counter()
        onnx_export.recommend(sess, [customer], k)
        timings[i] = time.perf_counter() - started
    return {"p50_ms": float(np.percentile(timings, 50) * 1000), "p99_ms": float(np.percentile(timings, 99) * 1000),
            "requests": requests}


def gates(candidate: dict, baseline_name: str, baseline: dict, min_improvement: float, validation: dict,
          latency: dict, p99_ms: float, k: int = K) -> dict:
    hr = f"hr_at_{k}"
    need = baseline[hr] + min_improvement
    failed_checks = [c["name"] for c in validation.get("checks", []) if not c["passed"]]
    return {
        "accuracy": {"passed": candidate[hr] >= need, "value": round(candidate[hr], 6), "threshold": round(need, 6),
                     "detail": f"HR@{k} {candidate[hr]:.4f} vs {baseline_name} {baseline[hr]:.4f} + {min_improvement}"},
        "schema": {"passed": bool(validation.get("passed")), "value": len(failed_checks), "threshold": 0,
                   "detail": "validation passed" if validation.get("passed") else f"failed checks: {', '.join(failed_checks) or 'report not passed'}"},
        "latency_p99": {"passed": latency["p99_ms"] < p99_ms, "value": round(latency["p99_ms"], 3), "threshold": p99_ms,
                        "detail": f"p99 {latency['p99_ms']:.2f} ms over {latency['requests']} single-customer requests (p50 {latency['p50_ms']:.2f} ms)"},
    }
