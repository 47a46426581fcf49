"""Recommendations for a batch of users: cache first, the model for the rest, counted.

Both HTTP front ends call this (ours, and the MLServer runtime of the benchmark), so the benchmark
compares servers, not two implementations of the same work.
"""
from __future__ import annotations

import numpy as np

from . import metrics
from .cache import RecommendationCache, cache_key, encode, fill_from_cache
from .errors import bad_request
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

    def check_users(self, user_ids: np.ndarray) -> None:
        unknown = self.recommender.unknown_users(user_ids)
        if unknown:
            shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
            raise bad_request(
                f"unknown user id(s): {shown}; this model knows user ids "
                f"0..{self.recommender.num_users - 1}"
            )

    def _infer(self, user_ids: np.ndarray, k: int) -> Recommendation:
        result, seconds = self.recommender.recommend(user_ids, k)
        self._inference.observe(seconds)
        return result

    async def recommend(self, user_ids: np.ndarray, k: int) -> Recommendation:
        if self.cache is None:
            return self._infer(user_ids, k)
        keys = [cache_key(self.model, self.version, k, int(u)) for u in user_ids]
        values = await self.cache.get_many(keys)
        if values is None:
            self._error.inc(len(keys))
            return self._infer(user_ids, k)
        out = Recommendation(
            item_ids=np.empty((len(keys), k), dtype=np.int64),
            scores=np.empty((len(keys), k), dtype=np.float32),
        )
        missing = fill_from_cache(values, k, out)
        if len(missing) < len(keys):
            self._hit.inc(len(keys) - len(missing))
        if not missing:
            return out
        self._miss.inc(len(missing))
        # ONNX Runtime runs on the event loop thread: a top-K for a small batch takes well under
        # a millisecond, less than a hop to a thread pool and back would cost.
        fresh = self._infer(user_ids[missing], k)
        out.item_ids[missing] = fresh.item_ids
        out.scores[missing] = fresh.scores
        await self.cache.set_many(
            {keys[row]: encode(fresh.item_ids[i], fresh.scores[i]) for i, row in enumerate(missing)}
        )
        return out
