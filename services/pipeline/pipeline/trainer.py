"""Train on any interactions table and keep the result as a model directory.

Input: a Parquet file (s3:// or local) with a customer column, an item column, a timestamp and
optionally a weight; several rows per pair are summed. Without a weight column each row weighs
2^(-age / half-life) from the table's last timestamp, so a team's raw event log trains as is.

Model directory (`--out`): factors.npz (users, items, item_bias, popularity), customers.parquet,
items.parquet (id -> index, sorted by id), model.json (parameters, device, losses, sizes, input).
"""
from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import polars as pl
import pyarrow as pa

from . import s3
from .errors import BadInput
from .model import Factors, Params, fit, pick_device


def load_interactions(uri: str, user_col: str, item_col: str, time_col: str, weight_col: str | None,
                      half_life_days: float) -> tuple[pl.DataFrame, str]:
    """(pairs with columns customer_id, sku, weight, timestamp; sha256 of the file)."""
    body = s3.get_bytes(uri)
    try:
        frame = pl.read_parquet(io.BytesIO(body))
    except (pl.exceptions.ComputeError, pa.ArrowInvalid, OSError):
        raise BadInput(f"{uri}: not a Parquet file") from None
    wanted = [c for c in (user_col, item_col, time_col, weight_col) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise BadInput(f"{uri}: column {missing[0]} is missing (has {', '.join(frame.columns)}); name the columns with --user-col/--item-col/--time-col/--weight-col")
    if frame.height == 0:
        raise BadInput(f"{uri}: no interactions")
    if not isinstance(frame.schema[time_col], pl.Datetime):
        raise BadInput(f"{uri}: column {time_col} is {frame.schema[time_col]}, expected a timestamp")
    frame = frame.select(pl.col(user_col).cast(pl.String).alias("customer_id"), pl.col(item_col).cast(pl.String).alias("sku"),
                         pl.col(time_col).dt.replace_time_zone(None).alias("timestamp"),
                         *( [pl.col(weight_col).cast(pl.Float64).alias("weight")] if weight_col else []))
    if weight_col is None:
        latest = frame["timestamp"].max()
        age = (pl.lit(latest) - pl.col("timestamp")).dt.total_milliseconds() / 86_400_000
        frame = frame.with_columns((2.0 ** (-age / half_life_days)).alias("weight"))
    bad = frame.filter(pl.col("customer_id").is_null() | pl.col("sku").is_null() | pl.col("weight").is_null()
                       | (pl.col("weight") <= 0) | pl.col("weight").is_nan())
    if bad.height:
        raise BadInput(f"{uri}: {bad.height} rows with a null id or a weight that is not > 0, e.g. {bad.row(0)}")
    pairs = (frame.group_by("customer_id", "sku").agg(pl.col("weight").sum(), pl.col("timestamp").max())
             .sort("customer_id", "sku"))
    return pairs, "sha256:" + hashlib.sha256(body).hexdigest()


def train(uri: str, out: str, params: Params, device: str = "auto", user_col: str = "customer_id",
          item_col: str = "sku", time_col: str = "timestamp", weight_col: str | None = "weight",
          half_life_days: float = 7.0) -> dict:
    started = time.perf_counter()
    pairs, digest = load_interactions(uri, user_col, item_col, time_col, weight_col, half_life_days)
    customers = pairs.select("customer_id").unique().sort("customer_id").with_row_index("index")
    items = pairs.select("sku").unique().sort("sku").with_row_index("index")
    indexed = (pairs.join(customers, on="customer_id").rename({"index": "u"})
               .join(items, on="sku").rename({"index": "i"}).sort("u", "i"))
    device = pick_device(device)
    factors, losses = fit(indexed["u"].to_numpy().astype(np.int64), indexed["i"].to_numpy().astype(np.int64),
                          indexed["weight"].to_numpy(), customers.height, items.height, params, device)
    popularity = (indexed.group_by("i").agg(pl.col("weight").sum()).sort("i")["weight"].to_numpy().astype(np.float32))
    save(out, factors, popularity, customers, items, {
        "params": params.as_dict(), "device": device, "losses": [round(x, 6) for x in losses],
        "customers": customers.height, "items": items.height, "pairs": indexed.height,
        "trained_until": pairs["timestamp"].max().date().isoformat(),
        "input": {"uri": uri, "digest": digest, "user_col": user_col, "item_col": item_col,
                  "time_col": time_col, "weight_col": weight_col},
        "seconds": round(time.perf_counter() - started, 2),
    })
    return load_meta(out)


def save(out: str, factors: Factors, popularity: np.ndarray, customers: pl.DataFrame, items: pl.DataFrame, meta: dict) -> None:
    sink = io.BytesIO()
    np.savez(sink, users=factors.users, items=factors.items, item_bias=factors.item_bias, popularity=popularity)
    s3.put_bytes(s3.join(out, "factors.npz"), sink.getvalue())
    s3.put_table(s3.join(out, "customers.parquet"), customers)
    s3.put_table(s3.join(out, "items.parquet"), items)
    s3.put_json(s3.join(out, "model.json"), meta)


def load_meta(out: str) -> dict:
    return s3.get_json(s3.join(out, "model.json"))


class TrainedModel:
    """A model directory loaded back: factors, ids, popularity, metadata."""

    def __init__(self, out: str):
        self.meta = load_meta(out)
        try:
            arrays = np.load(io.BytesIO(s3.get_bytes(s3.join(out, "factors.npz"))))
        except ValueError:
            raise BadInput(f"{s3.join(out, 'factors.npz')}: not a factors file") from None
        self.factors = Factors(users=arrays["users"], items=arrays["items"], item_bias=arrays["item_bias"])
        self.popularity = arrays["popularity"]
        self.customer_ids = s3.get_frame(s3.join(out, "customers.parquet")).sort("index")["customer_id"].to_numpy()
        self.skus = s3.get_frame(s3.join(out, "items.parquet")).sort("index")["sku"].to_numpy()
        self._index = {c: i for i, c in enumerate(self.customer_ids)}

    def recommend(self, customer_ids, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(skus [n, k], scores [n, k], is_fallback [n]): the reference the ONNX export must match."""
        k = min(k, len(self.skus))
        index = np.array([self._index.get(c, -1) for c in customer_ids], dtype=np.int64)
        fallback = index < 0
        scores = self.factors.scores(np.maximum(index, 0))
        scores[fallback] = self.popularity_scores()[None, :]
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return self.skus[top], np.take_along_axis(scores, top, axis=1), fallback

    def popularity_scores(self) -> np.ndarray:
        """float32 [items]: the fallback ranking as scores (share of the total weight)."""
        return (self.popularity / self.popularity.sum()).astype(np.float32)


def dumps(document: dict) -> str:
    return json.dumps(document, sort_keys=True)
