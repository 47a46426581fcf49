"""Kafka -> S3 lake ingestion (Amazon Data Firehose), the Glue catalog and Athena, producer identities."""
import re

from pydantic import Field, field_validator, model_validator

from .base import FieldError, Section

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_GLUE_TYPES = ("string", "timestamp", "double", "float", "int", "bigint", "boolean", "date", "array<double>", "array<float>")


class ServiceAccountRef(Section):
    namespace: str = Field(description="Kubernetes namespace of the producer pods.")
    service_account: str = Field(description="Service account the producer pods run as.")

    @field_validator("namespace", "service_account")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _K8S_NAME.match(v):
            raise ValueError("must be a Kubernetes name: lowercase letters, digits and '-', at most 63")
        return v


class ProducersConfig(Section):
    principal_arns: list[str] = Field(default_factory=list, description="IAM roles or users (outside the cluster) allowed to assume the producer role.")
    service_accounts: list[ServiceAccountRef] = Field(default_factory=list, description="In-cluster producers: each gets the producer role through EKS Pod Identity.")

    @field_validator("principal_arns")
    @classmethod
    def _arns(cls, v: list[str]) -> list[str]:
        for arn in v:
            if not _ROLE_ARN.match(arn):
                raise ValueError(f"must hold IAM role or user ARNs such as arn:aws:iam::123456789012:role/shop-web (got {arn!r})")
        return v


    @model_validator(mode="after")
    def _someone(self):
        if not self.principal_arns and not self.service_accounts:
            raise FieldError("serviceAccounts", "must name at least one service account when principalArns is empty: the producer role needs someone to trust")
        return self


class FeatureColumn(Section):
    name: str = Field(description="Column name.")
    glue: str = Field(description="Hive type.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _COLUMN.match(v):
            raise ValueError("must be a lowercase identifier (letters, digits, '_')")
        return v

    @field_validator("glue")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in _GLUE_TYPES:
            raise ValueError(f"must be one of {', '.join(_GLUE_TYPES)}")
        return v


class IngestConfig(Section):
    contracts: list[str] = Field(min_length=1, description="Lake topics, by contract under contracts/ (one Firehose stream each; clickstream first).")
    # Firehose's Parquet conversion and dynamic partitioning both need a buffer of at least 64 MiB.
    buffering_size_mib: int = Field(ge=64, le=128, description="Firehose buffer before a Parquet file is written (MiB).")
    buffering_interval_seconds: int = Field(ge=60, le=900, description="Longest a record waits in the Firehose buffer.")
    log_retention_days: int = Field(ge=1, description="Firehose delivery error logs in CloudWatch.")
    events_per_day: int = Field(ge=0, description="Expected clickstream events a day (cost estimate only).")
    bytes_per_event: int = Field(ge=1, le=1_048_576, description="Expected size of one JSON event (cost estimate only).")
    athena_bytes_scanned_cutoff_mib: int = Field(ge=10, le=10_485_760, description="Athena cancels a query that scans more than this (MiB; Athena's minimum is 10).")
    athena_results_retention_days: int = Field(ge=1, description="Athena query results are kept this long.")
    features_prefix: str = Field(description="Prefix of the pipeline's feature files in the features bucket: <prefix>/<model>/.")
    features_columns: list[FeatureColumn] = Field(min_length=1, description="Columns of the features table (the pipeline's output schema).")
    producers: ProducersConfig = Field(description="Who may assume the clickstream producer role.")

    @field_validator("features_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", v):
            raise ValueError("must be one path segment of lowercase letters, digits, '_' or '-'")
        return v

    @model_validator(mode="after")
    def _unique(self):
        if len(set(self.contracts)) != len(self.contracts):
            raise FieldError("contracts", f"must not repeat a contract (got {', '.join(self.contracts)})")
        names = [c.name for c in self.features_columns]
        if len(set(names)) != len(names):
            raise FieldError("featuresColumns", f"must not repeat a column (got {', '.join(names)})")
        return self
