"""The model registry side of a release: aliases, gate tags and decision tags in MLflow.

Contract with the pipeline's `register` step: a version's gates are tags `gate.<name>` whose
value starts with `pass` (`passed`, `pass: 0.231 >= 0.205`) or `fail`; a version can become
the challenger only with at least one gate tag and every one passed. Decisions are tags
`release.<field>` on the version they concern.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # MLflow takes seconds to import: bad arguments are answered before that
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

# `register` aliases a version that passed its gates `candidate`; `start` makes it `challenger`.
CANDIDATE, CHAMPION, CHALLENGER = "candidate", "champion", "challenger"
GATE_TAG_PREFIX = "gate."
RELEASE_TAG_PREFIX = "release."


class ReleaseRefused(ValueError):
    """The request cannot be carried out as asked (unknown model or version, gates not passed)."""


def client_from_env() -> "MlflowClient":
    """An MLflow client for MLFLOW_TRACKING_URI, logged in with MLFLOW_AUTH_DIR/{username,password}.

    The directory is how the cluster mounts the MLflow credentials Secret (and how the local
    loop writes them): the password never appears on a command line or in the DAG.
    """
    auth_dir = os.environ.get("MLFLOW_AUTH_DIR")
    if auth_dir:
        directory = Path(auth_dir)
        for name, variable in (("username", "MLFLOW_TRACKING_USERNAME"), ("password", "MLFLOW_TRACKING_PASSWORD")):
            path = directory / name
            if not path.is_file():
                raise ReleaseRefused(f"MLFLOW_AUTH_DIR={auth_dir}: {path} is missing (needs files username and password)")
            os.environ[variable] = path.read_text().strip()
    from mlflow import MlflowClient

    return MlflowClient()


def aliases(client: "MlflowClient", model: str) -> dict[str, str]:
    """alias -> version of a registered model; ReleaseRefused when the model is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        registered = client.get_registered_model(model)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise ReleaseRefused(f"model {model} is not registered in MLflow") from None
        raise
    return {alias: str(version) for alias, version in registered.aliases.items()}


def version(client: "MlflowClient", model: str, number: str) -> "ModelVersion":
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(model, number)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise ReleaseRefused(f"models:/{model}/{number} does not exist") from None
        raise


def gate_failures(model_version: "ModelVersion") -> list[str]:
    """Why the version may not be released: missing or failed `gate.<name>` tags; empty when it may."""
    gates = {key[len(GATE_TAG_PREFIX):]: value for key, value in model_version.tags.items()
             if key.startswith(GATE_TAG_PREFIX) and "." not in key[len(GATE_TAG_PREFIX):]}
    if not gates:
        return ["no gate.<name> tags (the version was never evaluated)"]
    return [f"gate.{name}={value}" for name, value in sorted(gates.items())
            if not value.strip().lower().startswith("pass")]


def set_alias(client: "MlflowClient", model: str, alias: str, number: str) -> None:
    client.set_registered_model_alias(model, alias, number)


def delete_alias(client: "MlflowClient", model: str, alias: str) -> None:
    client.delete_registered_model_alias(model, alias)


def record(client: "MlflowClient", model: str, number: str, fields: dict[str, object]) -> None:
    """Tags release.<field>=<value> on one version (None values are left out): one request a tag.

    Through the registry client under MlflowClient: MlflowClient.set_model_version_tag first reads
    the registered model to refuse tagging a prompt (MLflow 3.17), a second request per tag, and an
    analysis records 15 fields. Every action has read the registered model (aliases()) before it
    records, and a model the platform serves is never a prompt. MLflow has no batch call for
    model-version tags. A wrong model or version still fails, on the first tag."""
    registry_client = client._get_registry_client()  # MLflow's own client of the registry REST API
    for field, value in fields.items():
        if value is not None:
            registry_client.set_model_version_tag(model, number, f"{RELEASE_TAG_PREFIX}{field}", str(value))
