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
    # The onboarding steps of models/README.md: the copy's name and its registered model.
    write(models / "fraud.yaml", {**recsys(), "name": "fraud", "modelUri": "models:/fraud@champion"})
    result = preview(tmp_path / "out", *STACKS, models_dir=models)
    assert result.returncode == 0, result.stderr
    for stack in STACKS:
        before = {r["urn"]: r for r in serving_preview[stack]}
        after = {r["urn"]: r for r in resources(tmp_path / "out", stack)}
        added = set(after) - set(before)
        assert set(before) <= set(after), f"{stack}: resources disappeared"
        # The model's own objects: model-fraud-*, its alert rules and its namespace's NetworkPolicies.
        assert added and all("model-fraud" in urn or "-fraud-" in urn.rsplit("::", 1)[1] for urn in added), sorted(added)
        # Namespace, ServiceAccount, Secret, role (+policy, association), mTLS, callers,
        # SeldonDeployment, PDB, PodMonitor, the alert rules.
        assert len([a for a in added if "::model-fraud" in a]) >= 10
        changed = [urn for urn in before if before[urn]["inputs"] != after[urn]["inputs"]]
        assert changed == [], f"{stack}: inputs changed by adding a model: {changed}"
        spec = sdep(list(after.values()), "fraud")
        assert spec["metadata"]["namespace"] == "fraud"


def _predictors(tmp_path, model: dict) -> tuple[dict, list]:
    models = models_copy(tmp_path / "models")
    write(models / "recsys.yaml", model)
    result = preview(tmp_path / "out", "prod", models_dir=models)
    assert result.returncode == 0, result.stderr
    found = resources(tmp_path / "out", "prod")
    return {p["name"]: p for p in sdep(found, "recsys")["spec"]["predictors"]}, found


def _model_uri(predictor: dict) -> str:
    (container,) = predictor["componentSpecs"][0]["spec"]["containers"]
    return next(e["value"] for e in container["env"] if e["name"] == "MODEL_URI")


def test_a_canary_is_a_traffic_share_that_serves_the_challenger(tmp_path):
    # The shipped file: `canary: {trafficPercent: 10}` and no version anywhere.
    assert recsys()["canary"] == {"trafficPercent": 10}
    predictors, found = _predictors(tmp_path, recsys())
    assert {name: p["traffic"] for name, p in predictors.items()} == {"stable": 90, "canary": 10}
    # The release controller moves these aliases; the servers follow them, the file never changes.
    assert _model_uri(predictors["stable"]) == "models:/recsys@champion"
    assert _model_uri(predictors["canary"]) == "models:/recsys@challenger"
    assert predictors["stable"]["labels"] == {"version": "champion"}
    assert predictors["canary"]["labels"] == {"version": "challenger"}
    assert predictors["canary"]["componentSpecs"][0]["hpaSpec"]["minReplicas"] >= 2
    pdbs = {r["inputs"]["metadata"]["name"] for r in found if r["type"] == "kubernetes:policy/v1:PodDisruptionBudget"}
    assert {"recsys-stable", "recsys-canary"} <= pdbs


def test_the_canary_share_comes_from_the_file(tmp_path):
    predictors, _ = _predictors(tmp_path, {**recsys(), "canary": {"trafficPercent": 5}})
    assert {name: p["traffic"] for name, p in predictors.items()} == {"stable": 95, "canary": 5}


def test_without_a_canary_the_stable_predictor_takes_all_traffic(tmp_path):
    model = recsys()
    del model["canary"]
    predictors, _ = _predictors(tmp_path, model)
    assert {name: p["traffic"] for name, p in predictors.items()} == {"stable": 100}


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
        lambda m: write(m / "recsys.yaml", {**recsys(), "canary": {"trafficPercent": 50}}),
        "{dir}/recsys.yaml: canary.trafficPercent must be between 1 and 10: "
        "a canary starts at 10% of traffic at most (got 50)",
    ),
    "canary-with-a-version": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "canary": {"version": 8, "trafficPercent": 10}}),
        "{dir}/recsys.yaml: canary.version is not a known key (allowed: image, trafficPercent)",
    ),
    "canary-with-a-pinned-stable-version": (
        lambda m: write(m / "recsys.yaml", {**recsys(), "modelUri": "models:/recsys/3"}),
        "{dir}/recsys.yaml: modelUri must be models:/<name>@champion when a canary is declared: "
        "releases move the champion and challenger aliases (got models:/recsys/3)",
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
