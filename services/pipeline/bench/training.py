"""`make bench-training`: our trainer vs implicit's ALS vs popularity on one synthetic data set.

Prints a Markdown table (HR@10, NDCG@10, wall time, peak RSS) plus generator and feature
throughput. Each trainer runs in its own process so its peak memory is its own (ru_maxrss).
Local files, no S3: this measures the code, not moto. Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

START = dt.date(2026, 1, 5)


def _prepare(out: Path, users: int, items: int, events_per_day: int, days: int, holdout_days: int) -> dict:
    from pipeline import features, generate

    raw = out / "raw"
    spec = generate.Spec(start=START, days=days + holdout_days, users=users, items=items,
                         events_per_day=events_per_day, seed=7)
    gen = generate.run(spec, str(raw))
    started = time.perf_counter()
    frames = [pl.read_parquet(p) for p in sorted(raw.rglob("*.parquet"))]
    events = pl.concat(frames)
    train_end = START + dt.timedelta(days=days)
    cut = dt.datetime.combine(train_end, dt.time(), dt.timezone.utc)
    train = events.filter(pl.col("event_time") < cut)
    pairs = features.interactions(train, train_end, features.HALF_LIFE_DAYS)
    holdout = (events.filter((pl.col("event_time") >= cut) & pl.col("event_type").is_in(features.HOLDOUT_EVENTS))
               .select("customer_id", "sku").unique())
    feat_seconds = time.perf_counter() - started
    pairs.write_parquet(out / "interactions.parquet")
    holdout.write_parquet(out / "holdout.parquet")
    return {"events": gen["events"], "generator_events_per_second": gen["events_per_second"],
            "feature_events_per_second": round(events.height / feat_seconds), "pairs": pairs.height}


def _evaluate(out: Path, customers: np.ndarray, skus: np.ndarray, scores_fn) -> dict:
    from pipeline.metrics import ranking_metrics

    holdout = pl.read_parquet(out / "holdout.parquet")
    index = {c: i for i, c in enumerate(customers)}
    evaluated = sorted(set(holdout["customer_id"].to_list()) & set(index))
    rows = np.array([index[c] for c in evaluated])
    top = np.concatenate([np.argsort(-scores_fn(rows[lo:lo + 2048]), axis=1)[:, :10] for lo in range(0, len(rows), 2048)])
    return ranking_metrics(evaluated, skus[top], holdout, 10, len(skus))


def _run_one(which: str, out: Path) -> dict:
    pairs = pl.read_parquet(out / "interactions.parquet")
    customers = pairs["customer_id"].unique().sort().to_numpy()
    skus = pairs["sku"].unique().sort().to_numpy()
    u = pairs["customer_id"].to_frame().join(pl.DataFrame({"customer_id": customers}).with_row_index("u"), on="customer_id", how="left")["u"].to_numpy()
    i = pairs["sku"].to_frame().join(pl.DataFrame({"sku": skus}).with_row_index("i"), on="sku", how="left")["i"].to_numpy()
    w = pairs["weight"].to_numpy()
    started = time.perf_counter()
    if which == "ours":
        from pipeline.model import Params, fit
        factors, _ = fit(u.astype(np.int64), i.astype(np.int64), w, len(customers), len(skus), Params(), "cpu")
        scores = factors.scores
    elif which == "implicit-als":
        import scipy.sparse as sp
        from implicit.als import AlternatingLeastSquares
        matrix = sp.csr_matrix((np.log1p(w) * 20, (u, i)), shape=(len(customers), len(skus)))
        model = AlternatingLeastSquares(factors=48, regularization=0.05, iterations=15, random_state=7)
        model.fit(matrix, show_progress=False)
        scores = lambda rows: model.user_factors[rows] @ model.item_factors.T  # noqa: E731
    else:
        popularity = np.bincount(i, weights=w, minlength=len(skus))
        scores = lambda rows: np.tile(popularity, (len(rows), 1))  # noqa: E731
    seconds = time.perf_counter() - started
    result = _evaluate(out, customers, skus, scores)
    return {"trainer": which, "seconds": round(seconds, 1), "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            **{k: round(v, 4) for k, v in result.items() if isinstance(v, float)}, "customers": result["customers"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="build/bench")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--events-per-day", type=int, default=40_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--holdout-days", type=int, default=3)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out)
    if args.only:
        print(json.dumps(_run_one(args.only, out)))
        return
    out.mkdir(parents=True, exist_ok=True)
    data = _prepare(out, args.users, args.items, args.events_per_day, args.days, args.holdout_days)
    rows = []
    for which in ("ours", "implicit-als", "popularity"):
        done = subprocess.run([sys.executable, "-m", "bench.training", "--out", str(out), "--only", which],
                              capture_output=True, text=True, check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\n{dt.date.today()} on {platform.machine()} {os.cpu_count()} CPUs ({platform.processor() or 'cpu'}), load {os.getloadavg()[0]:.1f}")
    print(f"data: {args.users} users, {args.items} items, {data['events']} events over {args.days}+{args.holdout_days} days, "
          f"{data['pairs']} training pairs; generator {data['generator_events_per_second']} events/s, "
          f"features {data['feature_events_per_second']} events/s\n")
    print("| trainer | HR@10 | NDCG@10 | recall@10 | coverage@10 | wall s | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['trainer']} | {r['hr_at_10']} | {r['ndcg_at_10']} | {r['recall_at_10']} | {r['coverage_at_10']} | {r['seconds']} | {r['peak_rss_mib']} |")


if __name__ == "__main__":
    main()
