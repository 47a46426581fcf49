"""Adding a model is adding a file; a canary is two predictors; a bad file stops everything."""
import shutil

import pytest
import yaml

from serving_support import MODELS_DIR, STACKS, models_copy, preview, resources, sdep


def write(path, doc):
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def recsys() -> dict:
    return yaml.safe_load((MODELS_DIR / "recsys.yaml").read_text())


def test_a_copied_model_adds_its_own_resources_and_changes_nothing_else(serving_preview, tmp_path):
    models = models_copy(tmp_path / "models")
    write(models / "fraud.yaml", {**recsys(), "name": "fraud"})
    result = preview(tmp_path / "out", *STACKS, models_dir=models)
    assert result.returncode == 0, result.stderr
    for stack in STACKS:
        before = {r["urn"]: r for r in serving_preview[stack]}
        after = {r["urn"]: r for r in resources(tmp_path / "out", stack)}
        added = set(after) - set(before)
        assert set(before) <= set(after), f"{stack}: resources disappeared"
        assert added and all("model-fraud" in urn for urn in added), sorted(added)
        # Namespace, ServiceAccount, Secret, role (+policy, association), mTLS, callers,
        # SeldonDeployment, PDB, PodMonitor, the alert rules.
        assert len([a for a in added if "::model-fraud" in a]) >= 10
        changed = [urn for urn in before if before[urn]["inputs"] != after[urn]["inputs"]]
        assert changed == [], f"{stack}: inputs changed by adding a model: {changed}"
        spec = sdep(list(after.values()), "fraud")
        assert spec["metadata"]["namespace"] == "fraud"


def test_a_canary_is_a_second_predictor_with_the_declared_traffic(tmp_path):
    models = models_copy(tmp_path / "models")
    write(models / "recsys.yaml", {**recsys(), "canary": {"version": 8, "trafficPercent": 10}})
    result = preview(tmp_path / "out", "prod", models_dir=models)
    assert result.returncode == 0, result.stderr
    found = resources(tmp_path / "out", "prod")
    predictors = {p["name"]: p for p in sdep(found, "recsys")["spec"]["predictors"]}
    assert {name: p["traffic"] for name, p in predictors.items()} == {"stable": 90, "canary": 10}
    env = {e["name"]: e.get("value") for e in predictors["canary"]["componentSpecs"][0]["spec"]["containers"][0]["env"]}
    assert env["MODEL_URI"] == "models:/recsys/8"
    assert predictors["canary"]["labels"] == {"version": "v8"}
    assert predictors["canary"]["componentSpecs"][0]["hpaSpec"]["minReplicas"] >= 2
    pdbs = {r["inputs"]["metadata"]["name"] for r in found if r["type"] == "kubernetes:policy/v1:PodDisruptionBudget"}
    assert {"recsys-stable", "recsys-canary"} <= pdbs


def _broken(tmp_path, edit) -> tuple[str, object]:
    models = models_copy(tmp_path / "models")
    target = edit(models)
    return str(target), models


CASES = {
    "prod-floor": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "replicas": {**recsys()["replicas"], "prod": {"min": 2, "max": 30}}}),
        "{dir}/recsys.yaml: replicas.prod.min must be >= 3 for 99.9% availability across three zones (got 2)",
    ),
    "yaml-syntax": (
        lambda m: (m / "recsys.yaml").write_text("name: recsys\nteam: [recommendations\n"),
        "{dir}/recsys.yaml: line 3 is not valid YAML (expected ',' or ']', but got '<stream end>')",
    ),
    "unknown-key": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "slo": {"availability": 0.999, "p99LatencyMs": 100, "p95LatencyMs": 80}}),
        "{dir}/recsys.yaml: slo.p95LatencyMs is not a known key (allowed: availability, p99LatencyMs)",
    ),
    "duplicate-name": (
        lambda m: shutil.copy(m / "recsys.yaml", m / "recsys.yml"),
        "{dir}/recsys.yml: name recsys is already used by {dir}/recsys.yaml",
    ),
    "name-is-not-file-name": (
        lambda m: shutil.copy(m / "recsys.yaml", m / "fraud.yaml"),
        "{dir}/fraud.yaml: name must match the file name fraud (got recsys)",
    ),
    "latest-image": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "image": "ghcr.io/xyz/recsys:latest"}),
        "{dir}/recsys.yaml: image must be pinned by a version tag or digest, not latest: "
        "latest changes under a running deployment (got ghcr.io/xyz/recsys:latest)",
    ),
    "canary-too-large": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "canary": {"version": 8, "trafficPercent": 50}}),
        "{dir}/recsys.yaml: canary.trafficPercent must be between 1 and 10: "
        "a canary starts at 10% of traffic at most (got 50)",
    ),
    "unknown-repository": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "image": "recsys:1.0.0"}),
        "{dir}/recsys.yaml: image must name a repository of the platform's registry (mlflow, pipeline, serving) "
        "or be a full reference <registry>/<repository>:<tag> (got recsys:1.0.0)",
    ),
    "bucket-path-instead-of-registry": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "modelUri": "s3://bucket/models/recsys/model.onnx"}),
        "{dir}/recsys.yaml: modelUri must be a registry URI models:/<name>@<alias> or models:/<name>/<version> "
        "(got s3://bucket/models/recsys/model.onnx)",
    ),
    "min-improvement-as-percent": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "gates": {"minImprovement": 2}}),
        "{dir}/recsys.yaml: gates.minImprovement must be an absolute HR@10 difference in [0, 1), "
        "e.g. 0.02 for the seed's baseline + 2% (got 2)",
    ),
    "latency-off-bucket": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "slo": {"availability": 0.999, "p99LatencyMs": 120}}),
        "{dir}/recsys.yaml: slo.p99LatencyMs must be one of 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000: "
        "the executor's latency histogram can only count slow requests at a bucket boundary (got 120)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_model_file_stops_the_preview_with_one_line(tmp_path, case):
    edit, expected = CASES[case]
    models = models_copy(tmp_path / "models")
    edit(models)
    result = preview(tmp_path / "out", "dev", models_dir=models)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [expected.format(dir=models)]
    assert not (tmp_path / "out" / "dev" / "resources.json").exists()
