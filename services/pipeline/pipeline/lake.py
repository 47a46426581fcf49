"""The raw zone: list and read a window of `clickstream/dt=YYYY-MM-DD/hour=HH/` partitions.

A window is [start, end) in whole UTC days. Every day of the window must have at least one
partition: a missing day is a broken ingestion, not a quiet week, and training on it would
bias the model without a trace.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from . import contract as contract_mod
from . import s3
from .errors import BadInput


def parse_day(value: str, argument: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadInput(f"{argument} {value!r} is not a date YYYY-MM-DD") from None


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


@dataclass(frozen=True)
class Window:
    raw: str  # s3://bucket[/prefix]
    start: dt.date
    end: dt.date  # exclusive

    def __post_init__(self):
        if self.end <= self.start:
            raise BadInput(f"window {self.start}..{self.end} is empty: the end date must be after the start date")

    def objects(self, require_every_day: bool = True) -> list[dict]:
        """Parquet objects of the window, sorted by key; BadInput when a day has none."""
        contract = contract_mod.load()
        prefixes = [s3.join(self.raw, contract.partition_prefix(day.isoformat())) + "/"
                    for day in days(self.start, self.end)]
        found, missing = [], []
        for day, listed in zip(days(self.start, self.end), _concurrently(s3.list_objects, prefixes)):
            objects = [o for o in listed if o["Key"].endswith(".parquet")]
            if not objects:
                missing.append(day.isoformat())
            found.extend(objects)
        if missing and require_every_day:
            first = s3.join(self.raw, contract.partition_prefix(missing[0])) + "/"
            raise BadInput(f"{first}: no partitions; window {self.start}..{self.end} is missing {len(missing)} day(s) ({', '.join(missing[:3])}{'...' if len(missing) > 3 else ''})")
        return found

    def manifest(self, objects: list[dict]) -> dict:
        """What the window read, object by object: the data snapshot a model is traced back to."""
        bucket, _ = s3.split(self.raw)
        entries = [{"key": o["Key"], "etag": o["ETag"].strip('"'), "size": o["Size"]} for o in objects]
        body = json.dumps(entries, sort_keys=True).encode()
        return {"bucket": bucket, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "objects": len(entries), "bytes": sum(e["size"] for e in entries),
                "digest": "sha256:" + hashlib.sha256(body).hexdigest(), "entries": entries}


def _same_type(got: pa.DataType, want: pa.DataType) -> bool:
    # Writers differ in string layout (pyarrow: string, polars: large_string or string_view);
    # all three are UTF-8 text, which is what the contract means by `string`.
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got) or pa.types.is_string_view(got)
    return got == want


def schema_problems(table_schema: pa.Schema, where: str) -> list[str]:
    """Columns missing or of another type than the contract says, one line each."""
    contract = contract_mod.load()
    problems = []
    for column in contract.columns:
        index = table_schema.get_field_index(column.name)
        if index < 0:
            if column.required:
                problems.append(f"{where}: required column {column.name} is missing")
            continue
        got = table_schema.field(index).type
        if not _same_type(got, column.arrow_type) and not (pa.types.is_null(got) and not column.required):
            problems.append(f"{where}: column {column.name} is {got}, the contract says {column.type}")
    return problems


# S3 answers each GET in tens of milliseconds and a window is hundreds of hourly files (5 weeks:
# 840), so they are fetched side by side; 10 is botocore's connection pool per client
# (max_pool_connections), more threads would only queue for a connection.
S3_CONCURRENCY = 10


def _concurrently(function, items: list) -> list:
    """function(item) for every item, S3_CONCURRENCY at a time; results in the items' order, the
    first exception (e.g. BadInput) raised as it would be read one by one."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=S3_CONCURRENCY, thread_name_prefix="s3-read") as pool:
        return list(pool.map(function, items))


def read_objects(bucket: str, objects: list[dict]) -> list[pa.Table]:
    """The Parquet tables of `objects` (list_objects entries), in their order."""
    return _concurrently(lambda obj: s3.get_table(f"s3://{bucket}/{obj['Key']}"), objects)


def count_rows(bucket: str, objects: list[dict]) -> int:
    """Rows in `objects` (list_objects entries), from their Parquet footers."""
    return sum(_concurrently(lambda obj: s3.get_num_rows(f"s3://{bucket}/{obj['Key']}"), objects))


def read_window(window: Window, columns: list[str] | None = None) -> tuple[pl.DataFrame, dict]:
    """(events, manifest); BadInput on a missing day, a file off the contract or an empty window."""
    objects = window.objects()
    bucket, _ = s3.split(window.raw)
    contract = contract_mod.load()
    wanted = columns or [c.name for c in contract.columns]
    frames = []
    for obj, table in zip(objects, read_objects(bucket, objects)):
        problems = schema_problems(table.schema, f"s3://{bucket}/{obj['Key']}")
        if problems:
            raise BadInput(problems[0] + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""))
        frames.append(pl.from_arrow(table.select(wanted)))
    events = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    if events.height == 0:
        raise BadInput(f"{s3.join(window.raw, contract.prefix)}: window {window.start}..{window.end} has no events")
    return events, window.manifest(objects)
