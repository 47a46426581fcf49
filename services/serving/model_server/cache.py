"""Cache-aside in Redis for top-K results.

The key carries model name and version (and k and the customer id), so a canary, the stable
version and a rolled-back one never read each other's entries, and a version swapped in by an
alias move starts cold instead of serving the previous version's lists.
Redis is an accelerator, never a dependency: any Redis failure reads as "unavailable", the caller
answers from the model, and for CACHE_RETRY_SECONDS after a failure the cache is not even tried,
so a dead or slow Redis costs each request nothing instead of a timeout.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .recommender import Recommendation

log = logging.getLogger(__name__)


def connect(host: str, port: int, tls: bool, auth_token: str | None, timeout: float) -> aioredis.Redis:
    return aioredis.Redis(
        host=host,
        port=port,
        # ElastiCache in-transit encryption and AUTH token; the token is the password of the
        # default user.
        ssl=tls,
        password=auth_token,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # No retries: a retry doubles the wait on a slow Redis, and the model is the fallback.
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


def cache_key(model: str, version: str, k: int, customer_id: str) -> str:
    return f"reco:{model}:{version}:k{k}:c{customer_id}"


def encode(skus: np.ndarray, scores: np.ndarray, is_fallback: bool) -> bytes:
    """One customer's top-K as JSON: SKUs are strings of any length, so no fixed-width packing."""
    return orjson.dumps([skus.tolist(), scores.tolist(), bool(is_fallback)])


def decode(value: bytes, k: int) -> tuple[list[str], list[float], bool] | None:
    """The entry, or None for anything written by another layout (a miss; it gets overwritten)."""
    try:
        skus, scores, is_fallback = orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None
    if (not isinstance(skus, list) or not isinstance(scores, list) or len(skus) != k
            or len(scores) != k or not isinstance(is_fallback, bool)):
        return None
    return skus, scores, is_fallback


class RecommendationCache:
    def __init__(self, client: aioredis.Redis, ttl_seconds: int, retry_seconds: float):
        self._client = client
        self._ttl = ttl_seconds
        self._retry_seconds = retry_seconds
        self._skip_until = 0.0

    def _failed(self, operation: str, exc: Exception) -> None:
        if time.monotonic() >= self._skip_until:  # log once per back-off window, not per request
            log.warning("redis %s failed; answering from the model", operation,
                        extra={"error": repr(exc), "retry_in_s": self._retry_seconds})
        self._skip_until = time.monotonic() + self._retry_seconds

    def available(self) -> bool:
        return time.monotonic() >= self._skip_until

    async def get_many(self, keys: list[str]) -> list[bytes | None] | None:
        """Values in key order (None where absent), or None when Redis cannot answer."""
        if not self.available():
            return None
        try:
            if len(keys) == 1:
                return [await self._client.get(keys[0])]
            return await self._client.mget(keys)
        except (RedisError, OSError) as exc:
            self._failed("read", exc)
            return None

    async def set_many(self, entries: dict[str, bytes]) -> None:
        if not entries or not self.available():
            return
        try:
            if len(entries) == 1:
                ((key, value),) = entries.items()
                await self._client.set(key, value, ex=self._ttl)
                return
            async with self._client.pipeline(transaction=False) as pipe:
                for key, value in entries.items():
                    pipe.set(key, value, ex=self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("write", exc)

    async def close(self) -> None:
        await self._client.aclose()


def fill_from_cache(values: list[bytes | None], k: int, out: Recommendation) -> list[int]:
    """Copy decodable entries into `out`; return the row indices that still need the model."""
    missing = []
    for row, value in enumerate(values):
        decoded = decode(value, k) if value is not None else None
        if decoded is None:
            missing.append(row)
        else:
            out.skus[row], out.scores[row], out.is_fallback[row] = decoded
    return missing
