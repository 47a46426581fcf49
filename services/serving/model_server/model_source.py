"""Turn MODEL_URI into a local .onnx file and the version that labels metrics and cache keys."""
from __future__ import annotations

import fcntl
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import mlflow_registry
from .errors import ModelLoadError


@dataclass(frozen=True)
class ModelArtifact:
    path: Path
    version: str
    source: str  # "local" or "mlflow": the model_info metric's source label
    alias: str = ""  # registry alias asked for ("" for a local file or a pinned version)
    served_alias: str = ""  # alias the version came from (MODEL_FALLBACK_ALIAS when `alias` is missing)


def _onnx_file(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        candidates = sorted(path.rglob("*.onnx"))
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise ModelLoadError(f"no .onnx file in {path}")
        raise ModelLoadError(f"{len(candidates)} .onnx files in {path}; expected exactly one")
    raise ModelLoadError(f"model path {path} does not exist")


def _content_version(path: Path) -> str:
    # A local file has no registry version; its content hash still keeps two different files from
    # ever sharing cache keys.
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256-" + digest.hexdigest()[:12]


def _fetch_once(model: mlflow_registry.RegistryModel, cache_dir: Path) -> Path:
    # Every worker of the pod resolves the URI; the lock makes the first one download and the
    # others reuse its copy instead of pulling the same artifact from S3 once per worker.
    target = cache_dir / model.name / model.version
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{model.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            mlflow_registry.download(model, partial)
            partial.rename(target)
            (target / ".complete").touch()
    return target


def fetch(model: mlflow_registry.RegistryModel, cache_dir: str) -> ModelArtifact:
    local = _fetch_once(model, Path(cache_dir))
    return ModelArtifact(path=_onnx_file(local), version=model.version, source="mlflow",
                         alias=model.alias, served_alias=model.served_alias)


def is_registry_uri(model_uri: str) -> bool:
    return model_uri.startswith("models:/")


def resolve(model_uri: str, tracking_uri: str, cache_dir: str, fallback_alias: str = "",
            auth_dir: str = "") -> ModelArtifact:
    if is_registry_uri(model_uri):
        return fetch(mlflow_registry.resolve(model_uri, tracking_uri, fallback_alias, auth_dir), cache_dir)
    path = _onnx_file(Path(model_uri.removeprefix("file://")))
    return ModelArtifact(path=path, version=_content_version(path), source="local")
