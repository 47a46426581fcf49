"""Recommendations for a batch of customers: cache first, the model for the rest, counted.

Both HTTP front ends call this (ours, and the MLServer runtime of the benchmark), so the benchmark
compares servers, not two implementations of the same work. One instance serves one model version;
an alias move builds a new one and swaps it in whole (lifecycle.ModelState).
"""
from __future__ import annotations

import numpy as np

from . import metrics
from .cache import RecommendationCache, cache_key, encode, fill_from_cache
from .recommender import Recommendation, Recommender


class RecommendationService:
    def __init__(self, recommender: Recommender, cache: RecommendationCache | None,
                 model: str, version: str):
        self.recommender = recommender
        self.cache = cache
        self.model = model
        self.version = version
        # Children bound once: .labels() is a dict lookup plus a lock per call otherwise.
        self._hit, self._miss, self._error = (
            metrics.CACHE_REQUESTS.labels(model, version, result)
            for result in ("hit", "miss", "error")
        )
        self._inference = metrics.INFERENCE_DURATION.labels(model, version)
        self._fallback = metrics.FALLBACKS.labels(model, version)

    def _infer(self, customer_ids: np.ndarray, k: int) -> Recommendation:
        result, seconds = self.recommender.recommend(customer_ids, k)
        self._inference.observe(seconds)
        return result

    def _counted(self, result: Recommendation) -> Recommendation:
        fallbacks = int(np.count_nonzero(result.is_fallback))
        if fallbacks:
            self._fallback.inc(fallbacks)
        return result

    async def recommend(self, customer_ids: np.ndarray, k: int) -> Recommendation:
        """Top-k for customer ids (object array of str [batch]); unseen ones get is_fallback."""
        if self.cache is None:
            return self._counted(self._infer(customer_ids, k))
        keys = [cache_key(self.model, self.version, k, c) for c in customer_ids]
        values = await self.cache.get_many(keys)
        if values is None:
            self._error.inc(len(keys))
            return self._counted(self._infer(customer_ids, k))
        out = Recommendation(
            skus=np.empty((len(keys), k), dtype=object),
            scores=np.empty((len(keys), k), dtype=np.float32),
            is_fallback=np.zeros(len(keys), dtype=np.bool_),
        )
        missing = fill_from_cache(values, k, out)
        if len(missing) < len(keys):
            self._hit.inc(len(keys) - len(missing))
        if not missing:
            return self._counted(out)
        self._miss.inc(len(missing))
        # ONNX Runtime runs on the event loop thread: a top-K for a small batch takes well under
        # a millisecond, less than a hop to a thread pool and back would cost.
        fresh = self._infer(customer_ids[missing], k)
        out.skus[missing] = fresh.skus
        out.scores[missing] = fresh.scores
        out.is_fallback[missing] = fresh.is_fallback
        await self.cache.set_many(
            {keys[row]: encode(fresh.skus[i], fresh.scores[i], fresh.is_fallback[i])
             for i, row in enumerate(missing)}
        )
        return self._counted(out)
