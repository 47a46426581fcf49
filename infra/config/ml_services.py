"""MLflow, Airflow and the training pipeline's image on the cluster."""
import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from .base import Section
from .data_services import DatabaseConfig


def pinned_tag(v: str) -> str:
    """An ECR image tag that names one build: the tag grammar, and never `latest`."""
    if v == "latest" or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", v):
        raise ValueError("must be a version tag (ECR tags are immutable here; `latest` is refused)")
    return v


ImageTag = Annotated[str, AfterValidator(pinned_tag)]


class MlflowConfig(Section):
    replicas: int = Field(ge=1, le=10, description="Tracking-server replicas (>= 2 in prod for zero-downtime).")
    image_tag: ImageTag = Field(description="Tag of the MLflow server image built from services/mlflow, in the stack's ECR.")
    database: DatabaseConfig


class PipelineConfig(Section):
    # A section named after its ECR repository: tools/image_gate.py checks this tag like MLflow's.
    image_tag: ImageTag = Field(description="Tag of the training-pipeline image built from services/pipeline, in the "
                                                                             "stack's ECR: every step of the Airflow DAGs runs as a pod of it.")


class AirflowConfig(Section):
    dags_repository: str = Field(description="Git repository git-sync pulls DAGs from.")
    dags_branch: str = Field(description="Branch of the DAG repository.")
    dags_path: str = Field(description="Folder of the DAGs inside the repository.")
    scheduler_replicas: int = Field(ge=1, le=4, description="Schedulers (HA from 2).")
    database: DatabaseConfig

    @field_validator("dags_repository")
    @classmethod
    def _repo(cls, v: str) -> str:
        if not re.match(r"^(https://|ssh://|git@)", v):
            raise ValueError("must be an https://, ssh:// or git@ repository URL")
        return v
