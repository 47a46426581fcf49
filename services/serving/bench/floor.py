"""The floor: ONNX Runtime alone, in-process, one user per call, same session options as served."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from model_server.recommender import Recommender


def measure(model: Path, calls: int = 5000, k: int = 10) -> dict:
    recommender = Recommender(model, threads=1)
    recommender.warm_up(k)
    users = np.random.default_rng(0).integers(0, recommender.num_users, size=calls)
    timings = np.empty(calls)
    for i, user in enumerate(users):
        started = time.perf_counter()
        recommender.recommend(np.array([user], dtype=np.int64), k)
        timings[i] = time.perf_counter() - started
    return {
        "calls_per_s_one_core": round(calls / timings.sum()),
        "p50_ms": float(np.percentile(timings, 50)) * 1000,
        "p95_ms": float(np.percentile(timings, 95)) * 1000,
        "p99_ms": float(np.percentile(timings, 99)) * 1000,
    }
