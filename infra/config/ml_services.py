"""MLflow and Airflow on the cluster."""
import re

from pydantic import Field, field_validator

from .base import Section
from .data_services import DatabaseConfig


class MlflowConfig(Section):
    replicas: int = Field(ge=1, le=10, description="Tracking-server replicas (>= 2 in prod for zero-downtime).")
    image_tag: str = Field(description="Tag of the MLflow server image built from services/mlflow, in the stack's ECR.")
    database: DatabaseConfig

    @field_validator("image_tag")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if v == "latest" or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", v):
            raise ValueError("must be a version tag (ECR tags are immutable here; `latest` is refused)")
        return v


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
