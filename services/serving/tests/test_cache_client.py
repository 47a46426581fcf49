"""RecommendationCache in this process against the real redis-server: TTL on the single and the batch
fill, key order on reads, and the back-off after a failure (Redis is an accelerator, never a
dependency). The end-to-end behaviour through the server is in test_cache.py."""
from __future__ import annotations

import asyncio
import logging

import numpy as np
import orjson

from model_server import cache
from model_server.recommender import Recommendation

from .processes import free_port

TTL = 600


def run(coroutine):
    return asyncio.run(coroutine)


def make_cache(port: int, retry_seconds: float = 30.0) -> cache.RecommendationCache:
    client = cache.connect("127.0.0.1", port, tls=False, auth_token=None, timeout=1.0)
    return cache.RecommendationCache(client, ttl_seconds=TTL, retry_seconds=retry_seconds)


async def fill_then_read(port: int, entries: dict[str, bytes], keys: list[str]):
    recommendations = make_cache(port)
    try:
        await recommendations.set_many(entries)
        return await recommendations.get_many(keys)
    finally:
        await recommendations.close()


def test_single_fill_expires_within_the_ttl(redis_server):
    redis = redis_server.client()
    redis.delete("t:single")
    assert run(fill_then_read(redis_server.port, {"t:single": b"one"}, ["t:single"])) == [b"one"]
    # -1 would be an entry that never expires; the TTL is whole seconds counting down from 600.
    assert 0 < redis.ttl("t:single") <= TTL


def test_batch_fill_expires_within_the_ttl_and_reads_keep_key_order(redis_server):
    redis = redis_server.client()
    keys = ["t:batch:a", "t:batch:b", "t:batch:c"]
    redis.delete(*keys, "t:batch:absent")
    values = run(fill_then_read(redis_server.port, {k: k.encode() for k in keys},
                                ["t:batch:c", "t:batch:absent", "t:batch:a"]))
    assert values == [b"t:batch:c", None, b"t:batch:a"]
    ttls = [redis.ttl(k) for k in keys]
    assert len(ttls) == 3 and min(ttls) > 0 and max(ttls) <= TTL, ttls


def test_empty_fill_writes_nothing(redis_server):
    before = redis_server.client().dbsize()
    assert run(fill_then_read(redis_server.port, {}, ["t:never-written"])) == [None]
    assert redis_server.client().dbsize() == before


def test_a_dead_redis_is_unavailable_for_the_retry_window_and_logged_once(caplog):
    async def scenario():
        recommendations = make_cache(free_port(), retry_seconds=30.0)  # nothing listens there
        try:
            assert recommendations.available()
            first = await recommendations.get_many(["a", "b"])
            available_after = recommendations.available()
            second = await recommendations.get_many(["a"])  # inside the window: not even tried
            await recommendations.set_many({"a": b"1", "b": b"2"})
            return first, available_after, second
        finally:
            await recommendations.close()

    with caplog.at_level(logging.WARNING, logger="model_server.cache"):
        first, available_after, second = run(scenario())
    assert (first, available_after, second) == (None, False, None)
    warnings = [r for r in caplog.records if r.name == "model_server.cache"]
    assert len(warnings) == 1 and warnings[0].getMessage() == "redis read failed; answering from the model"
    assert warnings[0].retry_in_s == 30.0


def test_after_the_retry_window_the_cache_is_tried_again(redis_server):
    async def scenario():
        recommendations = make_cache(free_port(), retry_seconds=0.0)
        try:
            await recommendations.set_many({"a": b"1", "b": b"2"})  # fails: nothing listens
            return recommendations.available()
        finally:
            await recommendations.close()

    assert run(scenario()) is True


def test_fill_from_cache_copies_hits_and_returns_the_rows_to_compute():
    k = 2
    out = Recommendation(skus=np.empty((4, k), dtype=object), scores=np.zeros((4, k), dtype=np.float32),
                         is_fallback=np.zeros(4, dtype=bool))
    hit = cache.encode(np.array(["S1", "S2"], dtype=object), np.array([0.5, 0.25], dtype=np.float32), True)
    other_k = cache.encode(np.array(["S1"], dtype=object), np.array([0.5], dtype=np.float32), False)
    missing = cache.fill_from_cache([None, hit, other_k, b"not json"], k, out)
    assert missing == [0, 2, 3]
    assert out.skus[1].tolist() == ["S1", "S2"] and out.scores[1].tolist() == [0.5, 0.25]
    assert out.is_fallback.tolist() == [False, True, False, False]


def test_decode_rejects_every_other_layout():
    good = [["S1", "S2"], [0.5, 0.25], False]

    assert cache.decode(orjson.dumps(good), 2) == (["S1", "S2"], [0.5, 0.25], False)
    assert cache.decode(orjson.dumps(good), 1) is None  # k is part of the layout
    assert cache.decode(orjson.dumps(good), 3) is None
    for bad in ([["S1", "S2"], [0.5], False], ["S1S2", [0.5, 0.25], False], [["S1", "S2"], "x", False],
                [["S1", "S2"], [0.5, 0.25], 0], [["S1", "S2"], [0.5, 0.25]], 7):
        assert cache.decode(orjson.dumps(bad), 2) is None, bad


def test_decode_needs_lists_even_when_a_string_has_k_characters():
    # A string of k characters passes a length check; only the type check refuses it.
    assert cache.decode(orjson.dumps(["S1", [0.5, 0.25], False]), 2) is None
    assert cache.decode(orjson.dumps([["S1", "S2"], "xy", False]), 2) is None


def test_no_write_while_backing_off_even_when_redis_is_back(redis_server, caplog):
    async def scenario():
        recommendations = make_cache(redis_server.port, retry_seconds=30.0)
        try:
            recommendations._failed("read", ConnectionError("earlier failure"))  # the back-off window starts
            await recommendations.set_many({"t:backoff-a": b"1", "t:backoff-b": b"2"})
            await recommendations.set_many({"t:backoff-c": b"3"})
        finally:
            await recommendations.close()

    run(scenario())
    assert redis_server.client().exists("t:backoff-a", "t:backoff-b", "t:backoff-c") == 0


def test_a_batch_fill_is_a_pipeline_not_a_transaction(redis_server):
    # ElastiCache in cluster mode refuses MULTI over keys in different slots; the fill needs none.
    def multi_calls() -> int:
        return int(redis_server.client().info("commandstats").get("cmdstat_multi", {}).get("calls", 0))

    before = multi_calls()
    assert run(fill_then_read(redis_server.port, {"t:pipe-a": b"1", "t:pipe-b": b"2"}, ["t:pipe-a", "t:pipe-b"])) == [
        b"1", b"2"]
    assert multi_calls() == before


def test_a_failed_write_is_logged_as_a_write(caplog):
    async def scenario():
        recommendations = make_cache(free_port(), retry_seconds=30.0)  # nothing listens there
        try:
            await recommendations.set_many({"a": b"1", "b": b"2"})
            return recommendations.available()
        finally:
            await recommendations.close()

    with caplog.at_level(logging.WARNING, logger="model_server.cache"):
        assert run(scenario()) is False
    [warning] = [r for r in caplog.records if r.name == "model_server.cache"]
    assert warning.getMessage() == "redis write failed; answering from the model"
    assert "ConnectionError" in warning.error and warning.retry_in_s == 30.0


def test_connect_sets_tls_auth_timeouts_and_no_retries():
    # README: CACHE_TIMEOUT_SECONDS is the connect and read timeout, no retries; REDIS_TLS verifies
    # the certificate; the AUTH token is the default user's password.
    from redis.asyncio.connection import SSLConnection

    client = cache.connect("cache.internal", 6380, tls=True, auth_token="t0k", timeout=0.05)
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["password"]) == ("cache.internal", 6380, "t0k")
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.05, 0.05)
    assert kwargs["retry"].get_retries() == 0 and kwargs["health_check_interval"] == 0
    assert pool.connection_class is SSLConnection
    plain = cache.connect("127.0.0.1", 6379, tls=False, auth_token=None, timeout=1.0).connection_pool
    assert plain.connection_class is not SSLConnection and plain.connection_kwargs["password"] is None
