"""The lake contract (contracts/clickstream.yaml at the repository root), read once.

The image copies the file to /app/contracts/ (its Docker build context is the repository root);
in the repository it sits three levels above this file. CLICKSTREAM_CONTRACT overrides both.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import yaml

from .errors import BadInput

_HERE = Path(__file__).resolve()
_CANDIDATES = (_HERE.parents[1] / "contracts" / "clickstream.yaml",
               _HERE.parents[3] / "contracts" / "clickstream.yaml")

# Arrow types of the contract's `type` strings; anything else in the file is an error.
_ARROW_TYPES = {
    "string": pa.string(),
    "double": pa.float64(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "timestamp[ms, UTC]": pa.timestamp("ms", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Contract:
    prefix: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def partition_prefix(self, dt: str, hour: int | None = None) -> str:
        """`clickstream/dt=2026-01-05/` or `clickstream/dt=2026-01-05/hour=07/`."""
        day = f"{self.prefix}/dt={dt}/"
        return day if hour is None else f"{day}hour={hour:02d}/"


def contract_path() -> Path:
    if override := os.environ.get("CLICKSTREAM_CONTRACT"):
        return Path(override)
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise BadInput(f"contracts/clickstream.yaml not found (looked in {', '.join(map(str, _CANDIDATES))}); set CLICKSTREAM_CONTRACT")


@lru_cache(maxsize=4)
def load(path: Path | None = None) -> Contract:
    path = path or contract_path()
    try:
        raw = yaml.safe_load(path.read_text())
        columns = tuple(
            Column(name=c["name"], type=c["type"], required=bool(c["required"]), pattern=c.get("pattern"),
                   allowed=tuple(c["allowed"]) if c.get("allowed") else None, minimum=c.get("minimum"))
            for c in raw["columns"]
        )
        unknown = [c.type for c in columns if c.type not in _ARROW_TYPES]
        if unknown:
            raise BadInput(f"{path}: column type {unknown[0]!r} is not one of {sorted(_ARROW_TYPES)}")
        return Contract(prefix=raw["prefix"], columns=columns)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a readable clickstream contract ({exc})") from None
