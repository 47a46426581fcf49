"""Synthetic clickstream: the shop's events as the web tier publishes them, hour by hour.

Structure a recommender can learn and a drift check can see:
  - catalogue: SKUs in categories, Zipf-like popularity inside each category (long tail), prices;
    a share of items arrives during the period (new items);
  - customers (events_per_day is the first day's volume; traffic grows with them): segments with distinct tastes (a Dirichlet mix over categories, plus a set of
    favourite items per segment), Zipf-like activity, a share arriving during the period;
  - time: sessions follow a daily curve (evening peak) and a weekly one (weekends busier);
    a session is a few views with add_to_cart and purchase funnels behind them;
  - drift (optional, from a date): `taste` rotates every segment's category preference,
    `catalogue` opens a new catalogue section that takes a large share of traffic.
Memory is bounded by one hour of events plus O(users + items) arrays (5M users ~ 100 MB), and
every hour is drawn from its own seed (seed, day, hour): re-running rewrites identical files.
"""
from __future__ import annotations

import binascii
import datetime as dt
import io
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import contract as contract_mod
from . import lake, s3
from .errors import BadInput

CATEGORIES = ("electronics", "home", "fashion", "beauty", "sports", "toys", "books", "grocery",
              "garden", "automotive", "office", "pets")
NEW_SECTION = "outdoor-living"  # the catalogue drift's new section
DEVICES = ("web", "ios", "android")
DEVICE_SHARE = (0.5, 0.3, 0.2)
# Share of sessions by UTC hour: low at night, a lunchtime bump and an evening peak.
HOURLY = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.4, 1.8, 2, 2.1, 2.3, 2.6, 2.4, 2.2, 2.2, 2.4, 2.8,
                   3.3, 3.6, 3.5, 3.0, 2.2, 1.5])
HOURLY = HOURLY / HOURLY.sum()
WEEKLY = np.array([0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.25])  # Monday .. Sunday
EVENTS_PER_SESSION = 5.0
CART_AFTER_VIEW = 0.12
PURCHASE_AFTER_CART = 0.35
MAX_USERS = 9_000_000  # the id format C<9 digits> with the stride below
MAX_ITEMS = 2_000_000


@dataclass(frozen=True)
class Spec:
    start: dt.date
    days: int
    users: int
    items: int
    events_per_day: int
    seed: int
    segments: int = 8
    new_users_share: float = 0.2
    new_items_share: float = 0.1
    drift_from: dt.date | None = None
    drift_kind: str | None = None  # taste | catalogue

    def check(self) -> None:
        if not 1 <= self.days <= 3660:
            raise BadInput(f"--days {self.days} must be between 1 and 3660")
        if not 10 <= self.users <= MAX_USERS:
            raise BadInput(f"--users {self.users} must be between 10 and {MAX_USERS}")
        if not 10 <= self.items <= MAX_ITEMS:
            raise BadInput(f"--items {self.items} must be between 10 and {MAX_ITEMS}")
        if self.events_per_day < 24:
            raise BadInput(f"--events-per-day {self.events_per_day} must be at least 24 (one an hour)")
        if not 1 <= self.segments <= 64:
            raise BadInput(f"--segments {self.segments} must be between 1 and 64")
        if self.drift_kind not in (None, "taste", "catalogue"):
            raise BadInput(f"--drift-kind {self.drift_kind!r} must be taste or catalogue")
        if (self.drift_kind is None) != (self.drift_from is None):
            raise BadInput("--drift-from and --drift-kind go together (got only one)")


def customer_ids(index: np.ndarray) -> pa.Array:
    """Shop-style customer ids: C + 9 digits, a stride apart so they do not read as row numbers."""
    digits = pc.utf8_lpad(pc.cast(pa.array(index.astype(np.int64) * 97 + 100_000_000), pa.string()), 9, "0")
    return pc.binary_join_element_wise("C", digits, "")


def skus(index: np.ndarray) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(index.astype(np.int64) * 37 + 10_000_000), pa.string()), 8, "0")
    return pc.binary_join_element_wise("SKU-", digits, "")


def _hex(rng: np.random.Generator, count: int, nbytes: int) -> np.ndarray:
    raw = binascii.hexlify(rng.bytes(count * nbytes))
    return np.frombuffer(raw, dtype=f"S{2 * nbytes}").astype(str)


class World:
    """Catalogue, customers and segments: drawn once from the seed, O(users + items) memory."""

    def __init__(self, spec: Spec):
        rng = np.random.default_rng([spec.seed, 0])
        self.spec = spec
        n_cat = len(CATEGORIES)
        drift_section = spec.drift_kind == "catalogue"
        # Items: category, in-category popularity rank, price, day of arrival.
        self.item_category = rng.integers(0, n_cat, spec.items)
        rank = np.empty(spec.items)
        for c in range(n_cat):
            members = np.flatnonzero(self.item_category == c)
            rank[members] = rng.permutation(len(members))
        self.item_pop = 1.0 / (rank + 1.0) ** 1.1
        self.item_price = np.round(np.exp(rng.normal(3.2, 0.9, spec.items)), 2)
        arrives = rng.random(spec.items) < spec.new_items_share
        self.item_day = np.where(arrives, rng.integers(1, max(spec.days, 2), spec.items), 0)
        if drift_section:
            # The new section: 5% of the SKUs, all arriving on the drift day, in their own category.
            section = rng.random(spec.items) < 0.05
            self.item_category = np.where(section, n_cat, self.item_category)
            self.item_day = np.where(section, (spec.drift_from - spec.start).days, self.item_day)
        self.categories = CATEGORIES + ((NEW_SECTION,) if drift_section else ())
        # Segments: a taste over categories and favourite items (10% of the catalogue, boosted).
        self.taste = rng.dirichlet(np.full(n_cat, 0.3), spec.segments)
        self.favourite = rng.random((spec.segments, spec.items)) < 0.1
        # Customers: segment, activity (Zipf-like), arrival day; arrivals are in id order.
        self.user_segment = rng.integers(0, spec.segments, spec.users)
        self.user_activity = 1.0 / (rng.permutation(spec.users) + 1.0) ** 0.6
        first = int(spec.users * (1 - spec.new_users_share))
        self.users_by_day = np.linspace(first, spec.users, spec.days + 1).astype(np.int64)
        self.activity_cdf = np.cumsum(self.user_activity)

    def item_weights(self, day: int, drifted: bool) -> np.ndarray:
        """[segments, items] sampling weights of the day (only items released by then)."""
        spec = self.spec
        taste = self.taste
        if drifted and spec.drift_kind == "taste":
            taste = np.roll(taste, 3, axis=1)
        n_cat = taste.shape[1]
        category = np.minimum(self.item_category, n_cat - 1)
        weights = taste[:, category] * self.item_pop[None, :] * np.where(self.favourite, 8.0, 1.0)
        if drifted and spec.drift_kind == "catalogue":
            section = self.item_category == n_cat
            share = weights[:, ~section].sum(axis=1, keepdims=True)
            section_pop = self.item_pop * section
            weights = np.where(section, section_pop[None, :] / max(section_pop.sum(), 1e-12) * share * 0.6, weights)
        weights = weights * (self.item_day <= day)[None, :]
        return np.cumsum(weights, axis=1)


def _hour_table(world: World, cdf: np.ndarray, day: int, hour: int, sessions: int) -> pa.Table:
    spec = world.spec
    rng = np.random.default_rng([spec.seed, 1, day, hour])
    arrived = int(world.users_by_day[day])
    activity = world.activity_cdf[arrived - 1]
    users = np.searchsorted(world.activity_cdf[:arrived], rng.random(sessions) * activity, side="right")
    users = np.minimum(users, arrived - 1)
    views_per_session = 1 + rng.poisson(EVENTS_PER_SESSION - 1, sessions)
    session_of_view = np.repeat(np.arange(sessions), views_per_session)
    segment = world.user_segment[users][session_of_view]
    # Items: one draw per view from the segment's distribution of the day.
    totals = cdf[segment, -1]
    items = np.empty(len(segment), dtype=np.int64)
    for s in np.unique(segment):
        rows = np.flatnonzero(segment == s)
        items[rows] = np.searchsorted(cdf[s], rng.random(len(rows)) * totals[rows], side="right")
    items = np.minimum(items, spec.items - 1)
    carted = rng.random(len(items)) < CART_AFTER_VIEW
    bought = carted & (rng.random(len(items)) < PURCHASE_AFTER_CART)
    # Events: each view, then its add_to_cart, then its purchase, a little later each.
    kinds = np.concatenate([np.zeros(len(items), np.int8), np.ones(carted.sum(), np.int8),
                            np.full(bought.sum(), 2, np.int8)])
    event_view = np.concatenate([np.arange(len(items)), np.flatnonzero(carted), np.flatnonzero(bought)])
    session_start = rng.random(sessions) * 3_300_000  # ms into the hour; sessions end inside it
    gaps = rng.exponential(40_000, len(items))
    elapsed = gaps.cumsum()
    starts = np.concatenate([[0], np.cumsum(views_per_session)[:-1]])
    within = elapsed - np.repeat(elapsed[starts] - gaps[starts], views_per_session)
    view_ms = session_start[session_of_view] + np.minimum(within, 280_000)
    event_ms = view_ms[event_view] + kinds * rng.uniform(5_000, 60_000, len(kinds))
    hour_start = (dt.datetime.combine(spec.start + dt.timedelta(days=day), dt.time(hour), dt.timezone.utc).timestamp()) * 1000
    timestamps = (hour_start + np.minimum(event_ms, 3_599_999)).astype(np.int64)
    order = np.argsort(timestamps, kind="stable")
    event_view, kinds, timestamps = event_view[order], kinds[order], timestamps[order]
    event_session = session_of_view[event_view]
    event_item = items[event_view]
    n = len(kinds)
    session_hex = _hex(rng, sessions, 8)
    device = rng.choice(len(DEVICES), sessions, p=DEVICE_SHARE)
    priced = kinds > 0
    quantity = np.where(priced, 1 + rng.poisson(0.3, n), 0).astype(np.int32)
    categories = np.array(world.categories)[world.item_category[event_item]]
    return pa.table({
        "event_id": pa.array(_hex(rng, n, 16)),
        "event_time": pa.array(timestamps, pa.timestamp("ms", tz="UTC")),
        "event_type": pa.array(np.array(["view", "add_to_cart", "purchase"])[kinds]),
        "customer_id": customer_ids(users[event_session]),
        "sku": skus(event_item),
        "session_id": pc.binary_join_element_wise("S", pa.array(session_hex[event_session]), ""),
        "category": pa.array(categories),
        "price": pa.array(np.where(priced, world.item_price[event_item], np.nan), pa.float64(), mask=~priced),
        "quantity": pa.array(quantity, pa.int32(), mask=~priced),
        "device": pa.array(np.array(DEVICES)[device[event_session]]),
    })



def run(spec: Spec, raw: str) -> dict:
    """Write every hour of the period under `raw`; returns counts and throughput."""
    spec.check()
    contract = contract_mod.load()
    started = time.perf_counter()
    world = World(spec)
    total = 0
    sessions_per_day = spec.events_per_day / (EVENTS_PER_SESSION * (1 + CART_AFTER_VIEW * (1 + PURCHASE_AFTER_CART)))
    # Uploads go side by side (lake.S3_CONCURRENCY, botocore's pool) while the next hours are
    # generated; the first failed upload is raised once the period is written.
    pending = []
    with ThreadPoolExecutor(max_workers=lake.S3_CONCURRENCY, thread_name_prefix="s3-write") as uploads:
        for day in range(spec.days):
            date = spec.start + dt.timedelta(days=day)
            drifted = spec.drift_from is not None and date >= spec.drift_from
            cdf = world.item_weights(day, drifted)
            rng = np.random.default_rng([spec.seed, 2, day])
            # Traffic grows with the customer base, so activity per customer stays put without drift.
            growth = world.users_by_day[day] / world.users_by_day[0]
            daily = sessions_per_day * growth * WEEKLY[date.weekday()]
            for hour in range(24):
                sessions = max(1, int(rng.poisson(daily * HOURLY[hour])))
                table = _hour_table(world, cdf, day, hour, sessions).cast(contract.schema)
                sink = io.BytesIO()
                pq.write_table(table, sink, compression="zstd")
                key = s3.join(raw, contract.partition_prefix(date.isoformat(), hour), "part-00000.parquet")
                pending.append(uploads.submit(s3.put_bytes, key, sink.getvalue()))
                total += table.num_rows
    for upload in pending:
        upload.result()
    seconds = time.perf_counter() - started
    return {"events": total, "days": spec.days, "seconds": round(seconds, 2),
            "events_per_second": round(total / seconds) if seconds else None}
