"""MLflow: credentials, the champion's ONNX, and registering a candidate with its gate results.

Experiment and artifact location follow models/README.md: experiment `<model>` with artifacts
under s3://<MLflow artifact bucket>/models/<model>/, the one prefix the model's serving role reads.
A version whose gates all pass is aliased `candidate`: registered, not yet serving. The release
controller (`python -m pipeline release <model> start`) makes it the `challenger` the canary
serves, so the canary's traffic starts with its analysis window, not at registration.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from . import s3
from .errors import BadInput

CANDIDATE = "candidate"
CHAMPION = "champion"


def configure() -> str:
    """Credentials from MLFLOW_AUTH_DIR (files `username`, `password`) and the tracking URI."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # mlflow's S3 artifact client reads its own variable; one endpoint setting serves both.
    if s3.endpoint() and not os.environ.get("MLFLOW_S3_ENDPOINT_URL"):
        os.environ["MLFLOW_S3_ENDPOINT_URL"] = s3.endpoint()
    if auth_dir := os.environ.get("MLFLOW_AUTH_DIR"):
        try:
            os.environ["MLFLOW_TRACKING_USERNAME"] = (Path(auth_dir) / "username").read_text().strip()
            os.environ["MLFLOW_TRACKING_PASSWORD"] = (Path(auth_dir) / "password").read_text().strip()
        except OSError as exc:
            raise BadInput(f"MLFLOW_AUTH_DIR {auth_dir}: needs files username and password ({exc.strerror})") from None
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        raise BadInput(f"MLFLOW_TRACKING_URI {uri!r} must be the http(s) URL of the MLflow server")
    return uri


def client():
    from mlflow import MlflowClient

    uri = configure()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _missing(exc) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(exc).lower()


def champion_version(model_name: str):
    """The champion's ModelVersion, or None when the model or the alias does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise BadInput(f"MLflow: cannot read {model_name}@{CHAMPION} ({exc.message.splitlines()[0]})") from None


def download_onnx(source: str) -> bytes:
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp))
        found = sorted(local.rglob("*.onnx")) if local.is_dir() else [local]
        if len(found) != 1:
            raise BadInput(f"{source}: expected one .onnx artifact, found {len(found)}")
        return found[0].read_bytes()


def champion_onnx(model_name: str, spec: str) -> tuple[str, bytes] | None:
    """(source, ONNX bytes) of the model to beat: `none`, a file/s3 URI, or `auto` (the registry)."""
    if spec == "none":
        return None
    if spec != "auto":
        return spec, s3.get_bytes(spec)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    version = champion_version(model_name)
    if version is None:
        return None
    return f"models:/{model_name}/{version.version}", download_onnx(version.source)


def _experiment(mlflow_client, model_name: str, artifact_root: str) -> str:
    found = mlflow_client.get_experiment_by_name(model_name)
    if found is not None:
        return found.experiment_id
    return mlflow_client.create_experiment(model_name, artifact_location=s3.join(artifact_root, "models", model_name))


def _flat_metrics(evaluation: dict) -> dict[str, float]:
    out = {}
    for who, values in evaluation["metrics"].items():
        out.update({f"{who}_{name}": float(v) for name, v in values.items() if isinstance(v, (int, float))})
    out.update({f"latency_{name}": float(v) for name, v in evaluation["latency"].items()})
    return out


def register(model_name: str, onnx_uri: str, evaluation_uri: str, validation_uri: str, features_uri: str,
             model_dir: str, artifact_root: str) -> dict:
    """Log the run, register the version, tag every gate, alias `candidate` when all passed.

    Idempotent: a second call with the same ONNX file finds its run by the file's digest and
    only refreshes tags and alias. Returns {"version", "run_id", "gates_passed", "aliases"}.
    """
    body = s3.get_bytes(onnx_uri)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    evaluation = s3.get_json(evaluation_uri)
    validation = s3.get_json(validation_uri)
    manifest = s3.get_json(s3.join(features_uri, "manifest.json"))
    model_meta = s3.get_json(s3.join(model_dir, "model.json"))
    if evaluation.get("model_name") != model_name or "gates" not in evaluation:
        raise BadInput(f"{evaluation_uri}: not an evaluation report of {model_name} (model_name {evaluation.get('model_name')!r})")
    mlflow_client = client()
    experiment = _experiment(mlflow_client, model_name, artifact_root)
    tags = {
        "onnx_sha256": digest, "data_snapshot_digest": manifest["digest"], "raw": manifest["raw"],
        "train_start": manifest["train"]["start"], "train_end": manifest["train"]["end"],
        "holdout_end": manifest["holdout"]["end"], "trained_until": model_meta["trained_until"],
        "device": model_meta["device"],
    }
    runs = mlflow_client.search_runs([experiment], filter_string=f"tags.onnx_sha256 = '{digest}'", max_results=1)
    if runs:
        run_id = runs[0].info.run_id
        artifact_uri = runs[0].info.artifact_uri
    else:
        run = mlflow_client.create_run(experiment, tags=tags, run_name=f"{model_name}-{manifest['train']['end']}")
        run_id, artifact_uri = run.info.run_id, run.info.artifact_uri
        params = {**model_meta["params"], "half_life_days": manifest["half_life_days"], "pairs": model_meta["pairs"],
                  "customers": model_meta["customers"], "items": model_meta["items"],
                  "event_weights": json.dumps(manifest["event_weights"], sort_keys=True)}
        _log_params_and_metrics(mlflow_client, run_id, params, _flat_metrics(evaluation))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "model").mkdir()
            (Path(tmp) / "model" / "model.onnx").write_bytes(body)
            reports = Path(tmp) / "reports"
            reports.mkdir()
            for name, document in (("evaluation.json", evaluation), ("validation.json", validation),
                                   ("manifest.json", manifest), ("model.json", model_meta)):
                (reports / name).write_text(json.dumps(document, indent=2, sort_keys=True))
            mlflow_client.log_artifacts(run_id, str(Path(tmp) / "model"), artifact_path="model")
            mlflow_client.log_artifacts(run_id, str(reports), artifact_path="reports")
        mlflow_client.set_terminated(run_id)
    passed = bool(evaluation["passed"])
    version_tags = {**tags, "gates_passed": str(passed).lower(), "baseline": evaluation["baseline"]}
    for gate, result in evaluation["gates"].items():
        version_tags[f"gate.{gate}"] = "passed" if result["passed"] else "failed"
        version_tags[f"gate.{gate}.value"] = str(result["value"])
        version_tags[f"gate.{gate}.threshold"] = str(result["threshold"])
    version = _version_of(mlflow_client, model_name, run_id, f"{artifact_uri}/model", version_tags)
    if passed:
        mlflow_client.set_registered_model_alias(model_name, CANDIDATE, version)
    aliases = mlflow_client.get_model_version(model_name, version).aliases
    return {"version": version, "run_id": run_id, "gates_passed": passed, "aliases": sorted(aliases)}


def _log_params_and_metrics(mlflow_client, run_id: str, params: dict, metrics: dict[str, float]) -> None:
    """Params (stored as str(value), as log_param stores them) and metrics (step 0, now) in one
    log_batch request, which MLflow splits at its own per-batch limits. One request where a call
    per key took about 40 on the tracking server, each authenticated."""
    from mlflow.entities import Metric, Param
    from mlflow.utils.time import get_current_time_millis

    now = get_current_time_millis()
    mlflow_client.log_batch(run_id, params=[Param(key, str(value)) for key, value in params.items()],
                            metrics=[Metric(key, value, now, 0) for key, value in metrics.items()])


def _version_of(mlflow_client, model_name: str, run_id: str, source: str, tags: dict[str, str]) -> str:
    """The version registered from `run_id`, created with `tags`; an existing one (a re-run) gets
    the tags whose value differs. Tags go with the create request: MLflow's set_model_version_tag
    costs two requests per tag (it first reads the registered model to refuse prompts), about 40
    for a version's gate tags."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(model_name)
    except MlflowException as exc:
        if not _missing(exc):
            raise
        mlflow_client.create_registered_model(model_name)
    existing = mlflow_client.search_model_versions(f"name = '{model_name}' and run_id = '{run_id}'")
    if not existing:
        return str(mlflow_client.create_model_version(model_name, source=source, run_id=run_id, tags=tags).version)
    version = existing[0]
    for key, value in tags.items():
        if version.tags.get(key) != value:
            mlflow_client.set_model_version_tag(model_name, str(version.version), key, value)
    return str(version.version)
