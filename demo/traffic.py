"""Generated recommendation traffic through the executor stand-in, with every answer recorded.

The mix of a shop's recommendation calls (OIP V2 infer, one customer per request):
  repeat customers  a customer seen in training, drawn uniformly (personalised answers)
  hot customers     a few heavy visitors asked again and again (the Redis cache's hits)
  new customers     ids no model has seen (the popularity fallback)
Every request is recorded as (unix time, predictor, HTTP status, served version, latency s).
"""
from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass

import aiohttp

MIX = {"repeat": 0.6, "hot": 0.25, "new": 0.15}
HOT_CUSTOMERS = 20


@dataclass(frozen=True)
class Answer:
    at: float
    predictor: str
    status: int
    version: str
    seconds: float


class Traffic:
    """`rate` requests per second from `concurrency` clients, in a thread of its own, until stop().

    Each client waits for its answer before its next request, so a client holds its share of the
    rate only while answers take less than concurrency / rate seconds: 16 clients at 60/s leave
    each answer 267 ms, against 133 ms with 8, which a loaded machine's p99 came close to (the
    canary then got 120 requests in a window planned for 150)."""

    def __init__(self, url: str, model: str, rate: float, concurrency: int = 16, seed: int = 3):
        self.url = f"{url.rstrip('/')}/v2/models/{model}/infer"
        self.rate, self.concurrency = rate, concurrency
        self.answers: list[Answer] = []
        self._customers: list[str] = []
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="traffic", daemon=True)

    def set_customers(self, customers: list[str]) -> None:
        """The known customers to draw repeat and hot visitors from (the features' customers table)."""
        self._customers = list(customers)

    def has_customers(self) -> bool:
        return bool(self._customers)

    def start(self) -> None:
        """Starts the clients, paused: resume() lets them send."""
        self._thread.start()

    def resume(self) -> None:
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def first_error_after(self, since: float, predictor: str | None = None) -> float | None:
        """Unix time of the first 5xx answer at or after `since` (of one predictor, when given)."""
        return next((a.at for a in list(self.answers) if a.at >= since and a.status >= 500
                     and (predictor is None or a.predictor == predictor)), None)

    def _customer(self) -> str:
        kind = self._random.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "new" or not self._customers:
            return f"N{self._random.randrange(10**9):09d}"
        if kind == "hot":
            return self._customers[self._random.randrange(min(HOT_CUSTOMERS, len(self._customers)))]
        return self._random.choice(self._customers)

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._client(session) for _ in range(self.concurrency)))

    async def _client(self, session: aiohttp.ClientSession) -> None:
        interval = self.concurrency / self.rate
        next_at = time.monotonic() + self._random.random() * interval
        while not self._stop.is_set():
            if not self._running.is_set():
                await asyncio.sleep(0.2)
                next_at = time.monotonic()
                continue
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            body = {"inputs": [{"name": "customer_id", "shape": [1], "datatype": "BYTES",
                                "data": [self._customer()]}]}
            started = time.perf_counter()
            try:
                async with session.post(self.url, json=body) as response:
                    payload = await response.json(content_type=None) if response.status == 200 else {}
                    status, predictor = response.status, response.headers.get("x-predictor", "")
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                status, predictor, payload = 599, "", {}  # no answer at all: counted as a failure
            self.answers.append(Answer(time.time(), predictor, status, str(payload.get("model_version", "")),
                                       time.perf_counter() - started))
