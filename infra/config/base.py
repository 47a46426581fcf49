"""Shared base for every stack-config section.

Stack files are YAML written by people, so keys are camelCase (Pulumi's own convention) and
unknown keys are errors rather than silently ignored: a typo such as `maxSzie` must stop the
deployment instead of deploying the default.
"""
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class FieldError(ValueError):
    """A cross-field rule broken; names the field so the error message points at it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
