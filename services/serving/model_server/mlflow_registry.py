"""Resolve `models:/<name>@<alias>` (or `models:/<name>/<version>`) through the MLflow registry's
REST API and fetch the artifact from S3.

An alias that does not exist (no challenger between releases) resolves to the fallback alias
(MODEL_FALLBACK_ALIAS, champion by default), so the canary predictor then serves the champion.

Plain GETs and boto3 instead of the mlflow client: the image stays small, and the artifact store of
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
    alias: str = ""  # the alias MODEL_URI asks for ("" for a pinned version)
    served_alias: str = ""  # the alias the version came from: the fallback when `alias` is missing


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


class AliasNotFound(ModelLoadError):
    """The registered model exists but has no such alias."""


def _authorization(auth_dir: str) -> str | None:
    # MLFLOW_AUTH_DIR is a mounted Secret (files `username`, `password`), read on every call so a
    # rotated Secret is picked up without a restart; MLflow's basic-auth app checks the pair.
    if auth_dir:
        try:
            user = (Path(auth_dir) / "username").read_text().strip()
            password = (Path(auth_dir) / "password").read_text().strip()
        except OSError as exc:
            raise ModelLoadError(f"MLFLOW_AUTH_DIR {auth_dir}: cannot read username/password: {exc}") from exc
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    # The same credentials the mlflow client reads, so the platform configures them once.
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return f"Bearer {token}"
    if user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
        pair = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return None


def _get(tracking_uri: str, path: str, params: dict[str, str], auth_dir: str = "") -> dict:
    url = f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url)
    if authorization := _authorization(auth_dir):
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        if path == "registered-models/alias" and "alias" in detail and "not found" in detail:
            # MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE "... alias x not found."
            raise AliasNotFound(f"registered model {params['name']!r} has no alias "
                                f"{params['alias']!r}") from exc
        raise ModelLoadError(f"MLflow registry answered {exc.code} for {path}: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ModelLoadError(f"MLflow registry at {tracking_uri} unreachable: {exc}") from exc


@dataclass(frozen=True)
class RegistryVersion:
    """The version a `models:/` URI names now, before its artifact is located."""
    name: str
    version: str
    alias: str = ""
    served_alias: str = ""


def resolve_version(uri: str, tracking_uri: str, fallback_alias: str = "", auth_dir: str = "") -> RegistryVersion:
    """The version `uri` names now: one GET for an alias (two when it falls back), none for a
    pinned version. ModelLoadError when the registry cannot answer or nothing matches.

    What a model server polls: the artifact of a version does not move, so its location is asked
    for (`locate`) only when the version changed; a poll costs the registry one request, not two."""
    if not tracking_uri.startswith(("http://", "https://")):
        raise ModelLoadError(f"MODEL_URI {uri!r} needs MLFLOW_TRACKING_URI to be an http(s) URL")
    name, version, alias = parse_models_uri(uri)
    served_alias = alias
    if alias:
        try:
            found = _get(tracking_uri, "registered-models/alias", {"name": name, "alias": alias}, auth_dir)
        except AliasNotFound:
            if not fallback_alias or fallback_alias == alias:
                raise
            served_alias = fallback_alias
            found = _get(tracking_uri, "registered-models/alias",
                         {"name": name, "alias": fallback_alias}, auth_dir)
        version = str(found["model_version"]["version"])
    return RegistryVersion(name=name, version=version, alias=alias or "", served_alias=served_alias or "")


def locate(found: RegistryVersion, tracking_uri: str, auth_dir: str = "") -> RegistryModel:
    """`found` with its artifact's location: one GET (get-download-uri)."""
    download = _get(tracking_uri, "model-versions/get-download-uri",
                    {"name": found.name, "version": found.version}, auth_dir)
    return RegistryModel(name=found.name, version=found.version, artifact_uri=download["artifact_uri"],
                         alias=found.alias, served_alias=found.served_alias)


def resolve(uri: str, tracking_uri: str, fallback_alias: str = "", auth_dir: str = "") -> RegistryModel:
    """The version `uri` names now and its artifact's location (`resolve_version`, then `locate`):
    two GETs for an alias (three when it falls back); ModelLoadError as they raise it."""
    return locate(resolve_version(uri, tracking_uri, fallback_alias, auth_dir), tracking_uri, auth_dir)


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
