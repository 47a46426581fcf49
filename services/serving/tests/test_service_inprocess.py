"""RecommendationService in this process: the model's answer with and without the cache (the real
redis-server), cache-aside keyed by model, version, k and customer, and the counts the SLO
dashboards read (cache hit/miss/error per customer, fallbacks per unseen customer)."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from model_server import cache, metrics
from model_server.recommender import Recommender
from model_server.service import RecommendationService
from tools.build_recsys_model import customer_id as C

from .metrics_text import value
from .processes import free_port
from .registry_servers import unique_name

UNSEEN = "C999999001"  # not in the training data: the popularity fallback


@pytest.fixture(scope="module")
def recommender(model_path):
    return Recommender(model_path)


def counts(model: str) -> dict[str, float]:
    text = metrics.exposition()[0].decode()
    found = {r: value(text, "model_server_cache_requests_total", model=model, result=r) for r in ("hit", "miss", "error")}
    found["fallback"] = value(text, "model_server_fallback_recommendations_total", model=model)
    return found


def service_with(recommender, port: int | None, model: str) -> RecommendationService:
    store = None
    if port is not None:
        client = cache.connect("127.0.0.1", port, tls=False, auth_token=None, timeout=1.0)
        store = cache.RecommendationCache(client, ttl_seconds=600, retry_seconds=30.0)
    return RecommendationService(recommender, store, model, "7")


def recommend(service: RecommendationService, ids: list[str], k: int):
    async def call():
        try:
            return await service.recommend(np.array(ids, dtype=object), k)
        finally:
            if service.cache is not None:
                await service.cache.close()
    return asyncio.run(call())


def assert_same(got, want):
    assert got.skus.tolist() == want.skus.tolist()
    assert got.scores.dtype == np.float32 and got.scores.tolist() == want.scores.tolist()
    assert got.is_fallback.dtype == np.bool_ and got.is_fallback.tolist() == want.is_fallback.tolist()


def test_without_a_cache_the_model_answers_and_unseen_customers_are_counted(recommender):
    model = unique_name("nocache")
    ids = [C(1), UNSEEN, C(2)]
    got = recommend(service_with(recommender, None, model), ids, 4)
    want, _ = recommender.recommend(np.array(ids, dtype=object), 4)
    assert_same(got, want)
    assert got.skus.shape == (3, 4) and got.is_fallback.tolist() == [False, True, False]
    assert counts(model) == {"hit": 0, "miss": 0, "error": 0, "fallback": 1}


def test_misses_are_filled_and_hits_served_from_redis(recommender, redis_server):
    model = unique_name("cached")
    ids = [C(3), UNSEEN, C(4)]
    want, _ = recommender.recommend(np.array(ids, dtype=object), 5)
    assert_same(recommend(service_with(recommender, redis_server.port, model), ids, 5), want)
    assert counts(model) == {"hit": 0, "miss": 3, "error": 0, "fallback": 1}
    redis = redis_server.client()
    for i, customer in enumerate(ids):
        stored = cache.decode(redis.get(cache.cache_key(model, "7", 5, customer)), 5)
        assert stored is not None and stored[0] == want.skus[i].tolist() and stored[2] is bool(want.is_fallback[i])
        assert 0 < redis.ttl(cache.cache_key(model, "7", 5, customer)) <= 600

    # From the cache now: the same answer, counted as hits; the fallback is still counted.
    assert_same(recommend(service_with(recommender, redis_server.port, model), ids, 5), want)
    assert counts(model) == {"hit": 3, "miss": 3, "error": 0, "fallback": 2}

    # One more customer and another k: only what is not cached for that k is a miss.
    more = [C(3), C(5)]
    want_more, _ = recommender.recommend(np.array(more, dtype=object), 5)
    assert_same(recommend(service_with(recommender, redis_server.port, model), more, 5), want_more)
    assert counts(model) == {"hit": 4, "miss": 4, "error": 0, "fallback": 2}
    want_k2, _ = recommender.recommend(np.array(more, dtype=object), 2)
    assert_same(recommend(service_with(recommender, redis_server.port, model), more, 2), want_k2)
    assert counts(model) == {"hit": 4, "miss": 6, "error": 0, "fallback": 2}


def test_a_cached_answer_is_served_as_stored(recommender, redis_server):
    # A value in Redis under this version's key is the answer (what a sibling pod stored).
    model = unique_name("stored")
    key = cache.cache_key(model, "7", 2, C(6))
    redis_server.client().set(key, cache.encode(np.array(["SKU-A", "SKU-B"], dtype=object),
                                                np.array([0.75, 0.5], dtype=np.float32), True))
    got = recommend(service_with(recommender, redis_server.port, model), [C(6)], 2)
    assert (got.skus.tolist(), got.scores.tolist(), got.is_fallback.tolist()) == ([["SKU-A", "SKU-B"]], [[0.75, 0.5]], [True])
    assert counts(model) == {"hit": 1, "miss": 0, "error": 0, "fallback": 1}
    # Another version's key does not answer for this version.
    other = RecommendationService(recommender, None, model, "8")
    assert cache.cache_key(other.model, other.version, 2, C(6)) != key


def test_redis_down_counts_errors_and_the_model_answers(recommender):
    model = unique_name("down")
    ids = [C(7), C(8)]
    want, _ = recommender.recommend(np.array(ids, dtype=object), 3)
    assert_same(recommend(service_with(recommender, free_port(), model), ids, 3), want)
    assert counts(model) == {"hit": 0, "miss": 0, "error": 2, "fallback": 0}
