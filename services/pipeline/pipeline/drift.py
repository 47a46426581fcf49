"""Data drift between the champion's training window (reference) and the current window, with Evidently.

Per event, the inputs the recommender learns from:
  event_type        categorical: the funnel mix (view / add_to_cart / purchase)
  category          categorical: which catalogue sections customers engage with
  item_pop_rank     numeric: log(1 + the item's popularity rank in the reference window); items
                    unseen in the reference rank last, so a new catalogue section shows here
  customer_activity numeric: events per active day of the event's customer in its window
Evidently picks the test per column (Jensen-Shannon / Wasserstein distance at 0.1 for large
samples); the dataset drifts when the share of drifted columns reaches `drift_share` (Evidently's
default 0.5). Also measured: share of current events from customers and on items the reference
never saw; more than `max_unseen_item_share` of events on unseen items is drift by itself
(a catalogue the model has no factors for).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from . import lake

DRIFT_SHARE = 0.5
MAX_UNSEEN_ITEM_SHARE = 0.2
SAMPLE = 20_000
CATEGORICAL = ["event_type", "category"]
NUMERICAL = ["item_pop_rank", "customer_activity"]
COLUMNS = ["event_time", "event_type", "customer_id", "sku", "category"]


def _features(events: pl.DataFrame, ranks: pl.DataFrame, unseen_rank: int) -> pl.DataFrame:
    activity = events.group_by("customer_id").agg(
        (pl.len() / pl.col("event_time").dt.date().n_unique()).alias("customer_activity"))
    return (events.join(ranks, on="sku", how="left").join(activity, on="customer_id")
            .with_columns((pl.col("rank").fill_null(unseen_rank) + 1).log().alias("item_pop_rank"))
            .select(*CATEGORICAL, *NUMERICAL))


def _sample(frame: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    return frame if frame.height <= size else frame.sample(size, seed=seed)


def run(reference: lake.Window, current: lake.Window, drift_share: float = DRIFT_SHARE,
        max_unseen_item_share: float = MAX_UNSEEN_ITEM_SHARE, seed: int = 7) -> tuple[dict, str]:
    """(result, HTML report); BadInput on missing partitions or empty windows."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref_events, ref_manifest = lake.read_window(reference, COLUMNS)
    cur_events, cur_manifest = lake.read_window(current, COLUMNS)
    ranks = (ref_events.group_by("sku").len().sort(["len", "sku"], descending=[True, False])
             .with_row_index("rank").select("sku", pl.col("rank").cast(pl.Int64)))
    ref = _sample(_features(ref_events, ranks, ranks.height), SAMPLE, seed)
    cur = _sample(_features(cur_events, ranks, ranks.height), SAMPLE, seed)
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
        Dataset.from_pandas(cur.to_pandas(), data_definition=definition),
        Dataset.from_pandas(ref.to_pandas(), data_definition=definition))
    columns, share = {}, None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {"method": config["method"], "threshold": config["threshold"],
                                         "value": float(metric["value"]),
                                         "drifted": float(metric["value"]) >= config["threshold"]}
    if share is None or len(columns) != len(CATEGORICAL) + len(NUMERICAL):
        raise RuntimeError(f"Evidently returned {len(columns)} column results and share {share}; expected {len(CATEGORICAL) + len(NUMERICAL)}")
    seen_customers = ref_events.select("customer_id").unique()
    unseen_customers = cur_events.join(seen_customers, on="customer_id", how="anti").height / cur_events.height
    unseen_items = cur_events.join(ranks.select("sku"), on="sku", how="anti").height / cur_events.height
    detected = share >= drift_share or unseen_items > max_unseen_item_share
    with tempfile.TemporaryDirectory() as tmp:
        snapshot.save_html(str(Path(tmp) / "drift.html"))
        html = (Path(tmp) / "drift.html").read_text()
    result = {
        "detected": detected, "drift_share": share, "drift_share_threshold": drift_share,
        "columns": columns, "unseen_customer_share": round(unseen_customers, 6),
        "unseen_item_share": round(unseen_items, 6), "max_unseen_item_share": max_unseen_item_share,
        "reference": {"start": reference.start.isoformat(), "end": reference.end.isoformat(),
                      "events": ref_events.height, "digest": ref_manifest["digest"]},
        "current": {"start": current.start.isoformat(), "end": current.end.isoformat(),
                    "events": cur_events.height, "digest": cur_manifest["digest"]},
    }
    return result, html
