import re

from pydantic import Field, field_validator, model_validator

from .base import FieldError, Section


class DataLakeConfig(Section):
    raw_infrequent_access_days: int = Field(ge=30, description="Raw objects move to S3 Standard-IA after this many days (S3's minimum is 30).")
    raw_glacier_days: int = Field(ge=60, description="Raw objects move to Glacier Flexible Retrieval after this many days.")
    noncurrent_version_expiration_days: int = Field(ge=1, description="Overwritten or deleted object versions are kept this long.")
    access_log_retention_days: int = Field(ge=1, description="S3 server access logs are kept this long.")
    force_destroy: bool = Field(description="Let `pulumi destroy` delete non-empty buckets; refused outside dev.")

    @model_validator(mode="after")
    def _order(self):
        if self.raw_glacier_days < self.raw_infrequent_access_days + 30:
            raise FieldError(
                "rawGlacierDays",
                f"must be >= rawInfrequentAccessDays + 30, S3's minimum stay in Standard-IA "
                f"(got {self.raw_glacier_days} < {self.raw_infrequent_access_days + 30})",
            )
        return self


_REPO_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


class RegistryConfig(Section):
    repositories: list[str] = Field(min_length=1, description="One ECR repository per service image under services/.")
    keep_last_images: int = Field(ge=1, le=1000, description="Lifecycle policy keeps this many most recent images.")

    @field_validator("repositories")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _REPO_NAME.match(name):
                raise ValueError(f"must hold lowercase names of letters, digits and '-' (got {name!r})")
        if len(set(v)) != len(v):
            raise ValueError("must not repeat a repository name")
        return v

