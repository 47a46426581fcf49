"""register against a real basic-auth `mlflow server` (artifacts on moto S3), logged in from
MLFLOW_AUTH_DIR; drift with Evidently; Pushgateway."""
from __future__ import annotations

import json
import urllib.request

import pytest

from pipeline import registry, s3

from .conftest import ARTIFACTS, LAKE, RAW, START, run
from .test_steps import pipeline_run  # noqa: F401 (module fixture reused)


def register_args(run_dir: str, evaluation: str) -> list[str]:
    return ["register", "--model-name", "recsys", "--onnx", f"{run_dir}/model.onnx", "--evaluation", evaluation,
            "--validation", f"{run_dir}/validation.json", "--features", run_dir, "--model", f"{run_dir}/model",
            "--artifact-root", ARTIFACTS]


@pytest.fixture(scope="module")
def registered(pipeline_run, mlflow_registry):  # noqa: F811
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_registry[0])
        mp.setenv("MLFLOW_AUTH_DIR", str(mlflow_registry[1]))
        assert run("evaluate", "--features", pipeline_run, "--onnx", f"{pipeline_run}/model.onnx", "--validation",
                   f"{pipeline_run}/validation.json", "--report", f"{pipeline_run}/evaluation.json",
                   "--latency-requests", "200") == 0
        assert run(*register_args(pipeline_run, f"{pipeline_run}/evaluation.json")) == 0
    return pipeline_run


def test_registered_version_carries_gates_and_is_the_candidate(registered, tracking):
    client = registry.client()
    version = client.get_model_version_by_alias("recsys", "candidate")
    assert version.tags["gates_passed"] == "true"
    for gate in ("accuracy", "schema", "latency_p99"):
        assert version.tags[f"gate.{gate}"] == "passed"
        float(version.tags[f"gate.{gate}.value"])
    assert version.tags["data_snapshot_digest"] == s3.get_json(f"{registered}/manifest.json")["digest"]
    assert version.tags["train_start"] == START and version.tags["raw"] == RAW
    assert version.source.startswith(f"{ARTIFACTS}/models/recsys/")  # the prefix the serving role may read
    # Registered, not serving: the canary predictor follows `challenger`, which only `release start` moves.
    assert set(client.get_registered_model("recsys").aliases) == {"candidate"}
    run_data = client.get_run(version.run_id).data
    assert run_data.params["factors"] == "24" and run_data.metrics["candidate_hr_at_10"] > run_data.metrics["popularity_hr_at_10"]
    files = {f.path for f in client.list_artifacts(version.run_id, "reports")}
    assert files == {"reports/evaluation.json", "reports/validation.json", "reports/manifest.json", "reports/model.json"}
    assert registry.download_onnx(version.source) == s3.get_bytes(f"{registered}/model.onnx")


def test_register_again_is_idempotent(registered, tracking, capsys):
    before = registry.client().search_model_versions("name = 'recsys'")
    assert run(*register_args(registered, f"{registered}/evaluation.json")) == 0
    after = registry.client().search_model_versions("name = 'recsys'")
    assert len(before) == len(after) == 1
    assert after[0].tags == before[0].tags


def test_register_again_refreshes_the_tags_that_changed(registered, tracking):
    # The same ONNX file evaluated again (a re-run of the task): its version is found, not made
    # again, and the gate results it carries are the new report's.
    client = registry.client()
    before = client.get_model_version("recsys", "1").tags
    evaluation = s3.get_json(f"{registered}/evaluation.json")
    evaluation["gates"]["latency_p99"]["value"] = 12.5
    s3.put_json(f"{registered}/evaluation-rerun.json", evaluation)
    assert run(*register_args(registered, f"{registered}/evaluation-rerun.json")) == 0
    after = client.get_model_version("recsys", "1").tags
    assert after["gate.latency_p99.value"] == "12.5" != before["gate.latency_p99.value"]
    assert {k: v for k, v in after.items() if k != "gate.latency_p99.value"} == \
        {k: v for k, v in before.items() if k != "gate.latency_p99.value"}
    assert len(client.search_model_versions("name = 'recsys'")) == 1


def test_champion_is_rescored_on_the_same_holdout(registered, tracking, capsys):
    client = registry.client()
    client.set_registered_model_alias("recsys", "champion", "1")  # what the release would do
    try:
        assert run("evaluate", "--features", registered, "--onnx", f"{registered}/model.onnx", "--validation",
                   f"{registered}/validation.json", "--report", f"{registered}/vs-champion.json", "--latency-requests", "100") == 3
    finally:
        client.delete_registered_model_alias("recsys", "champion")
    report = s3.get_json(f"{registered}/vs-champion.json")
    assert report["baseline"] == "champion" and report["metrics"]["champion"]["source"] == "models:/recsys/1"
    # The same model as champion and candidate: equal HR@10, so +0.02 cannot be met.
    assert report["metrics"]["champion"]["hr_at_10"] == report["metrics"]["candidate"]["hr_at_10"]
    assert "accuracy FAILED" in capsys.readouterr().err


def test_mlflow_auth_dir_sets_basic_auth(tmp_path, monkeypatch):
    (tmp_path / "username").write_text("pipeline\n")
    (tmp_path / "password").write_text("s3cret\n")
    monkeypatch.setenv("MLFLOW_AUTH_DIR", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    registry.configure()
    import os
    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("pipeline", "s3cret")
    (tmp_path / "password").unlink()
    with pytest.raises(registry.BadInput, match="needs files username and password"):
        registry.configure()


def gauges(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith("mlops_") and 'model="recsys"' in line}


WINDOWS = ["--reference-start", "2026-03-02", "--reference-end", "2026-03-04",
           "--current-start", "2026-03-05", "--current-end", "2026-03-07"]


def test_no_drift_is_not_flagged_and_is_pushed(lake, pushgateway_url, tmp_path):
    assert run("drift", "--raw", RAW, *WINDOWS, "--out", "s3://lake-features/drift/none", "--pushgateway", pushgateway_url,
               "--result-file", str(tmp_path / "result.json")) == 0
    result = s3.get_json("s3://lake-features/drift/none/drift.json")
    assert result["detected"] is False and result["drift_share"] < 0.5
    assert json.loads((tmp_path / "result.json").read_text()) == {"drift_detected": False, "drift_share": result["drift_share"]}
    assert len(result["columns"]) == 4 and result["unseen_item_share"] <= 0.2
    assert b"<html" in s3.get_bytes("s3://lake-features/drift/none/drift.html")[:2000].lower()
    assert gauges(pushgateway_url)[DETECTED] == 0.0


def test_injected_drift_is_detected_and_pushed(aws, pushgateway_url, tmp_path):
    assert run("generate", "--raw", "s3://lake-raw/taste", "--start", START, "--days", "5", *LAKE,
               "--drift-from", "2026-03-05", "--drift-kind", "taste") == 0
    assert run("drift", "--raw", "s3://lake-raw/taste", *WINDOWS, "--out", "s3://lake-features/drift/taste",
               "--pushgateway", pushgateway_url, "--result-file", str(tmp_path / "xcom" / "return.json")) == 0
    result = s3.get_json("s3://lake-features/drift/taste/drift.json")
    assert result["detected"] is True and result["drift_share"] >= 0.5
    # The drift DAG's XCom: what its short-circuit reads.
    assert json.loads((tmp_path / "xcom" / "return.json").read_text()) == {
        "drift_detected": True, "drift_share": result["drift_share"]}
    assert result["columns"]["category"]["drifted"] is True
    pushed = gauges(pushgateway_url)
    assert pushed[DETECTED] == 1.0 and pushed[SHARE] == result["drift_share"]


DETECTED = 'mlops_data_drift_detected{instance="",job="mlops-drift",model="recsys"}'
SHARE = 'mlops_data_drift_share{instance="",job="mlops-drift",model="recsys"}'


def test_training_pushes_its_last_success(pipeline_run, pushgateway_url):  # noqa: F811
    import time
    before = time.time()
    assert run("train", "--interactions", f"{pipeline_run}/interactions.parquet", "--out", f"{pipeline_run}/pushed",
               "--epochs", "1", "--factors", "4", "--negatives", "4", "--pushgateway", pushgateway_url) == 0
    pushed = gauges(pushgateway_url)['mlops_training_last_success_timestamp_seconds{instance="",job="mlops-training",model="recsys"}']
    assert before <= pushed <= time.time()
