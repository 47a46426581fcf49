"""Resolve `models:/<name>@<alias>` (or `models:/<name>/<version>`) through the MLflow registry's
REST API and fetch the artifact from S3.

Two GETs and boto3 instead of the mlflow client: the image stays small, and the artifact store of
the platform is S3 (MLFLOW_S3_ENDPOINT_URL points boto3 at another endpoint, as mlflow does).
"""
from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError

_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class RegistryModel:
    name: str
    version: str
    artifact_uri: str


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """`models:/recsys@champion` -> (recsys, None, champion); `models:/recsys/3` -> (recsys, 3, None)."""
    rest = uri[len("models:/"):].strip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias and "/" not in name:
            return name, None, alias
    elif rest.count("/") == 1:
        name, version = rest.split("/")
        if name and version.isdigit():
            return name, version, None
    raise ModelLoadError(f"MODEL_URI {uri!r} is not models:/<name>@<alias> or models:/<name>/<version>")


def _get(tracking_uri: str, path: str, params: dict[str, str]) -> dict:
    url = f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url)
    # The same credentials the mlflow client reads, so the platform configures them once.
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    elif user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
        pair = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise ModelLoadError(f"MLflow registry answered {exc.code} for {path}: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ModelLoadError(f"MLflow registry at {tracking_uri} unreachable: {exc}") from exc


def resolve(uri: str, tracking_uri: str) -> RegistryModel:
    if not tracking_uri.startswith(("http://", "https://")):
        raise ModelLoadError(f"MODEL_URI {uri!r} needs MLFLOW_TRACKING_URI to be an http(s) URL")
    name, version, alias = parse_models_uri(uri)
    if alias:
        found = _get(tracking_uri, "registered-models/alias", {"name": name, "alias": alias})
        version = str(found["model_version"]["version"])
    download = _get(
        tracking_uri, "model-versions/get-download-uri", {"name": name, "version": version}
    )
    return RegistryModel(name=name, version=version, artifact_uri=download["artifact_uri"])


def download(model: RegistryModel, into: Path) -> Path:
    """Copy the version's artifacts from S3 into `into` and return it."""
    parsed = urllib.parse.urlparse(model.artifact_uri)
    if parsed.scheme != "s3":
        raise ModelLoadError(
            f"artifact URI {model.artifact_uri!r} of {model.name} v{model.version} is not on S3"
        )
    import boto3  # deferred: local-path deployments never pay for importing botocore
    import botocore.exceptions

    s3 = boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)
    prefix = parsed.path.lstrip("/")
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=parsed.netloc, Prefix=prefix)
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        if not keys:
            raise ModelLoadError(f"no artifacts under {model.artifact_uri}")
        for key in keys:
            relative = key[len(prefix):].lstrip("/") or Path(key).name
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(parsed.netloc, key, str(target))
    except botocore.exceptions.BotoCoreError as exc:
        raise ModelLoadError(f"fetching {model.artifact_uri} failed: {exc}") from exc
    except botocore.exceptions.ClientError as exc:
        raise ModelLoadError(f"fetching {model.artifact_uri} failed: {exc}") from exc
    return into
