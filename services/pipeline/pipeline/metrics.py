"""Ranking metrics on a holdout: HR@k, recall@k, NDCG@k (binary relevance) and catalogue coverage.

Definitions (as in He et al., "Neural Collaborative Filtering", 2017, and Järvelin & Kekäläinen
2002 for NDCG): for each evaluated customer with at least one held-out item,
  HR@k     = 1 if any of the top-k is held out, else 0
  recall@k = held-out items in the top-k / held-out items
  NDCG@k   = sum over hits of 1/log2(rank + 1) / sum_{r=1..min(k, held-out items)} 1/log2(r + 1)
each averaged over customers; coverage@k = distinct items recommended to them / catalogue size.
"""
from __future__ import annotations

import numpy as np
import polars as pl


def ranking_metrics(customers: list[str] | np.ndarray, recommended: np.ndarray, holdout: pl.DataFrame,
                    k: int, catalogue_size: int) -> dict:
    """customers [n]; recommended: SKUs [n, >= k]; holdout: (customer_id, sku) pairs."""
    if len(customers) == 0:
        raise ValueError("no customers to evaluate")
    recs = pl.DataFrame({"customer_id": list(customers), "sku": recommended[:, :k].tolist()}).explode("sku")
    recs = recs.with_columns((pl.int_range(pl.len()).over("customer_id") + 1).alias("rank"))
    relevant = holdout.join(recs.select("customer_id").unique(), on="customer_id").group_by("customer_id").len("relevant")
    hits = recs.join(holdout, on=["customer_id", "sku"]).group_by("customer_id").agg(
        pl.len().alias("hits"), (1.0 / (pl.col("rank") + 1).log(2)).sum().alias("dcg"))
    per_user = relevant.join(hits, on="customer_id", how="left").fill_null(0)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = discounts[np.minimum(per_user["relevant"].to_numpy(), k) - 1]
    n = per_user.height
    return {
        f"hr_at_{k}": float((per_user["hits"] > 0).sum() / n) if n else 0.0,
        f"recall_at_{k}": float((per_user["hits"] / per_user["relevant"]).mean()) if n else 0.0,
        f"ndcg_at_{k}": float((per_user["dcg"].to_numpy() / ideal).mean()) if n else 0.0,
        f"coverage_at_{k}": float(recs["sku"].n_unique() / catalogue_size),
        "customers": n,
    }
