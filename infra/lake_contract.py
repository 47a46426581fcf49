"""The lake's data contracts (contracts/<name>.yaml), read once and handed to the components.

A contract names the Kafka topic, the raw-zone prefix and partitions, the error prefix and the
columns with their Hive (Glue) types. The training pipeline validates events against the same
file, so the Glue table, the Firehose conversion and the pipeline cannot drift apart."""
import re
from dataclasses import dataclass
from pathlib import Path

from infra.config import strict_yaml

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
# Hive types Firehose's Parquet conversion and Athena both read (the subset the lake uses).
GLUE_TYPES = frozenset({"string", "timestamp", "double", "float", "int", "bigint", "smallint", "boolean", "date"})
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ContractError(ValueError):
    """A contract file that is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    glue_type: str
    description: str


@dataclass(frozen=True)
class LakeContract:
    name: str
    topic: str
    prefix: str
    error_prefix: str
    partitions: tuple[Column, ...]
    columns: tuple[Column, ...]
    path: Path


def load_contract(name: str, directory: Path = CONTRACTS_DIR) -> LakeContract:
    """contracts/<name>.yaml -> LakeContract. Raises ContractError naming the file and field."""
    path = directory / f"{name}.yaml"
    if not _NAME.match(name) or not path.is_file():
        raise ContractError(f"no file contracts/{name}.yaml")
    doc = strict_yaml.safe_load(path.read_text())
    if not isinstance(doc, dict):
        raise ContractError(f"{path}: must be a mapping")

    def text(field: str) -> str:
        value = doc.get(field)
        if not isinstance(value, str) or not value:
            raise ContractError(f"{path}: {field} must be a non-empty string (got {value!r})")
        return value

    def columns(field: str) -> tuple[Column, ...]:
        entries = doc.get(field)
        if not isinstance(entries, list) or not entries:
            raise ContractError(f"{path}: {field} must be a non-empty list")
        out = []
        for i, entry in enumerate(entries):
            col_name, glue = (entry or {}).get("name"), (entry or {}).get("glue")
            if not isinstance(col_name, str) or not _NAME.match(col_name):
                raise ContractError(f"{path}: {field}[{i}].name must be a lowercase identifier (got {col_name!r})")
            if glue not in GLUE_TYPES:
                raise ContractError(f"{path}: {field}[{i}].glue must be one of {', '.join(sorted(GLUE_TYPES))} (got {glue!r})")
            out.append(Column(col_name, glue, str(entry.get("description", ""))))
        names = [c.name for c in out]
        if len(set(names)) != len(names):
            raise ContractError(f"{path}: {field} repeats a column name")
        return tuple(out)

    contract = LakeContract(name=text("name"), topic=text("topic"), prefix=text("prefix"),
                            error_prefix=text("errorPrefix"), partitions=columns("partitions"),
                            columns=columns("columns"), path=path)
    if contract.name != name:
        raise ContractError(f"{path}: name must match the file name (got {contract.name!r})")
    clash = {c.name for c in contract.partitions} & {c.name for c in contract.columns}
    if clash:
        raise ContractError(f"{path}: partition keys must not also be columns (got {', '.join(sorted(clash))})")
    return contract
