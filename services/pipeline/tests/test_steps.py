"""Each step on the small lake: generate -> validate -> features -> train -> export -> evaluate."""
from __future__ import annotations

import io
import re

import numpy as np
import onnxruntime as ort
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipeline import contract, s3
from pipeline.trainer import TrainedModel

from .conftest import FEATURES, HOLDOUT_END, LAKE, RAW, START, TRAIN_END, run

RUN = f"{FEATURES}/recsys/test-run"
TRAIN = ["--epochs", "6", "--negatives", "16", "--factors", "24", "--batch-size", "1024", "--seed", "3"]


@pytest.fixture(scope="module")
def pipeline_run(lake):
    """validate, features, train, export on the lake; each must exit 0."""
    assert run("validate", "--raw", RAW, "--start", START, "--end", TRAIN_END, "--report", f"{RUN}/validation.json") == 0
    assert run("features", "--raw", RAW, "--train-start", START, "--train-end", TRAIN_END,
               "--holdout-end", HOLDOUT_END, "--out", RUN) == 0
    assert run("train", "--interactions", f"{RUN}/interactions.parquet", "--out", f"{RUN}/model", *TRAIN) == 0
    assert run("export", "--model", f"{RUN}/model", "--out", f"{RUN}/model.onnx", "--model-name", "recsys") == 0
    return RUN


def test_generated_events_follow_the_contract(lake):
    spec = contract.load()
    objects = s3.list_objects(f"{RAW}/clickstream/")
    assert len(objects) == 7 * 24  # every hour of every day has its partition
    assert all(re.search(r"clickstream/dt=2026-03-0[2-8]/hour=([01][0-9]|2[0-3])/part-00000\.parquet$", o["Key"]) for o in objects)
    table = pq.read_table(io.BytesIO(s3.get_bytes(f"{RAW}/{objects[20]['Key']}")))
    assert table.schema.equals(spec.schema)
    events = pl.from_arrow(table)
    assert events.height > 0
    for column in spec.columns:
        if column.pattern:
            assert events[column.name].str.contains(column.pattern).all(), column.name
        if column.allowed:
            assert set(events[column.name].unique()) <= set(column.allowed), column.name
    priced = events.filter(pl.col("event_type") != "view")
    assert priced["price"].null_count() == 0 and events.filter(pl.col("event_type") == "view")["price"].null_count() == events.filter(pl.col("event_type") == "view").height


def test_generator_is_deterministic_and_injects_drift(aws):
    base = ["--start", START, "--days", "2", *LAKE]
    assert run("generate", "--raw", "s3://lake-raw/same-a", *base) == 0
    assert run("generate", "--raw", "s3://lake-raw/same-b", *base) == 0
    assert run("generate", "--raw", "s3://lake-raw/drift", *base, "--drift-from", "2026-03-03", "--drift-kind", "catalogue") == 0
    key = "clickstream/dt=2026-03-03/hour=18/part-00000.parquet"
    a, b = (s3.get_bytes(f"s3://lake-raw/same-{x}/{key}") for x in "ab")
    assert a == b
    drifted = pl.read_parquet(io.BytesIO(s3.get_bytes(f"s3://lake-raw/drift/{key}")))
    before = pl.read_parquet(io.BytesIO(s3.get_bytes("s3://lake-raw/drift/clickstream/dt=2026-03-02/hour=18/part-00000.parquet")))
    assert "outdoor-living" not in before["category"].to_list()
    assert (drifted["category"] == "outdoor-living").mean() > 0.2


def test_validation_report_passes_on_clean_data(pipeline_run):
    report = s3.get_json(f"{pipeline_run}/validation.json")
    names = [c["name"] for c in report["checks"]]
    assert report["passed"] is True and report["rows"] > 0 and report["files"] == 5 * 24
    assert len(names) == 1 + len(contract.load().columns) + 3  # schema, one per column, dups, prices, volume
    assert {"schema", "column customer_id", "duplicate event_id rate", "volume vs previous window"} <= set(names)


def test_volume_is_compared_with_the_previous_window_of_the_same_length(lake):
    report = f"{RUN}/volume.json"
    assert run("validate", "--raw", RAW, "--start", "2026-03-06", "--end", "2026-03-08", "--report", report) == 0
    [volume] = [c for c in s3.get_json(report)["checks"] if c["name"] == "volume vs previous window"]

    def rows(days):
        return sum(pl.read_parquet(io.BytesIO(s3.get_bytes(f"{RAW}/{o['Key']}"))).height
                   for day in days for o in s3.list_objects(f"{RAW}/clickstream/dt=2026-03-0{day}/"))
    assert volume["value"] == round(rows([6, 7]) / rows([4, 5]), 4)
    assert volume["detail"] == f"{rows([6, 7])} events against {rows([4, 5])} in 2026-03-04..2026-03-06"


def test_features_split_by_time(pipeline_run):
    pairs = s3.get_frame(f"{pipeline_run}/interactions.parquet")
    holdout = s3.get_frame(f"{pipeline_run}/holdout.parquet")
    assert pairs["timestamp"].max().date().isoformat() < TRAIN_END
    assert (pairs["weight"] > 0).all() and pairs.height == pairs.select("customer_id", "sku").n_unique()
    assert holdout.height > 0
    manifest = s3.get_json(f"{pipeline_run}/manifest.json")
    assert manifest["train"]["objects"] == 5 * 24 and manifest["holdout"]["objects"] == 2 * 24
    assert manifest["digest"].startswith("sha256:")


def test_same_seed_same_model_other_seed_other_model(pipeline_run):
    base = ["--interactions", f"{pipeline_run}/interactions.parquet", "--epochs", "2", "--negatives", "8", "--factors", "8"]
    assert run("train", *base, "--seed", "5", "--out", f"{pipeline_run}/seed5a") == 0
    assert run("train", *base, "--seed", "5", "--out", f"{pipeline_run}/seed5b") == 0
    assert run("train", *base, "--seed", "6", "--out", f"{pipeline_run}/seed6") == 0
    a, b, c = (s3.get_bytes(f"{pipeline_run}/{d}/factors.npz") for d in ("seed5a", "seed5b", "seed6"))
    assert a == b
    assert a != c


def test_onnx_follows_the_serving_contract_and_matches_the_model(pipeline_run):
    body = s3.get_bytes(f"{pipeline_run}/model.onnx")
    sess = ort.InferenceSession(body, providers=["CPUExecutionProvider"])
    assert {i.name: i.type for i in sess.get_inputs()} == {"customer_id": "tensor(string)", "k": "tensor(int64)"}
    assert {o.name: o.type for o in sess.get_outputs()} == {"skus": "tensor(string)", "scores": "tensor(float)", "is_fallback": "tensor(bool)"}
    model = TrainedModel(f"{pipeline_run}/model")
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["model_name"] == "recsys" and meta["trained_until"] == "2026-03-06"
    assert int(meta["num_customers"]) == len(model.customer_ids) and int(meta["num_items"]) == len(model.skus)
    known = list(model.customer_ids[:50])
    skus, scores, fallback = sess.run(None, {"customer_id": np.array(known + ["C999999999"], dtype=object), "k": np.array([10])})
    assert skus.shape == (51, 10) and scores.shape == (51, 10)
    assert fallback.tolist() == [False] * 50 + [True]
    want, _, _ = model.recommend(known, 10)
    assert (skus[:50] == want).mean() > 0.99  # ties may swap equal-score neighbours
    popular = model.skus[np.argsort(-model.popularity, kind="stable")[:10]]
    assert list(skus[50]) == list(popular)
    # k larger than the catalogue is capped, not an error
    capped, _, _ = sess.run(None, {"customer_id": np.array(known[:1], dtype=object), "k": np.array([10_000])})
    assert capped.shape == (1, len(model.skus))


def test_trained_model_beats_popularity_and_passes_gates(pipeline_run, capsys):
    assert run("evaluate", "--features", pipeline_run, "--onnx", f"{pipeline_run}/model.onnx", "--validation",
               f"{pipeline_run}/validation.json", "--report", f"{pipeline_run}/evaluation.json", "--champion", "none",
               "--latency-requests", "300") == 0
    report = s3.get_json(f"{pipeline_run}/evaluation.json")
    candidate, popularity = report["metrics"]["candidate"], report["metrics"]["popularity"]
    assert report["baseline"] == "popularity" and report["passed"] is True
    assert candidate["hr_at_10"] >= popularity["hr_at_10"] + 0.02
    assert candidate["ndcg_at_10"] > popularity["ndcg_at_10"]
    assert candidate["coverage_at_10"] > popularity["coverage_at_10"]
    assert set(report["gates"]) == {"accuracy", "schema", "latency_p99"}
    assert report["gates"]["latency_p99"]["value"] < 100
    assert "release gates passed" in capsys.readouterr().out


def test_gate_failures_stop_with_the_reason(pipeline_run, capsys):
    common = ["--features", pipeline_run, "--onnx", f"{pipeline_run}/model.onnx", "--champion", "none",
              "--latency-requests", "100", "--report", f"{pipeline_run}/failed.json"]
    capsys.readouterr()
    assert run("evaluate", *common, "--validation", f"{pipeline_run}/validation.json", "--min-improvement", "0.9") == 3
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "accuracy FAILED" in line and "schema passed" in line
    assert run("evaluate", *common, "--validation", f"{pipeline_run}/validation.json", "--p99-ms", "0.000001") == 3
    assert "latency_p99 FAILED" in capsys.readouterr().err
    failed = {"passed": False, "checks": [{"name": "column sku", "passed": False}]}
    s3.put_json(f"{pipeline_run}/bad-validation.json", failed)
    assert run("evaluate", *common, "--validation", f"{pipeline_run}/bad-validation.json") == 3
    err = capsys.readouterr().err
    assert "schema FAILED (failed checks: column sku)" in err
    assert s3.get_json(f"{pipeline_run}/failed.json")["gates"]["schema"]["passed"] is False
