"""Schema and data-quality checks on a window of raw events, with pandera (polars backend).

The result is the "no schema drift" release gate's input: a report whose `passed` is true only
when every file follows the contract (columns and types), every value is allowed (required
fields set, event types and devices from the allowed lists, ids matching their patterns,
prices and quantities in range), duplicates and nulls stay under their rates and the volume
stays within a factor of the previous window of the same length.
"""
from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
import pyarrow

from . import contract as contract_mod
from . import lake, s3
from .errors import BadInput

# Defaults; each is an argument of the step. Duplicates: Kafka delivers at least once, so a few
# repeats of an event_id are expected upstream of de-duplication, a burst is a producer bug.
MAX_DUPLICATE_RATE = 0.001
# add_to_cart and purchase carry a price; a few missing (client bugs) are tolerated.
MAX_MISSING_PRICE_RATE = 0.01
# Volume against the previous window: half or double is an outage or a replay, not a trend.
VOLUME_RATIO = (0.5, 2.0)
EXAMPLES = 3


def pandera_schema() -> pa.DataFrameSchema:
    """The contract's columns as a pandera schema: dtype, nullability, pattern, allowed values, minimum."""
    contract = contract_mod.load()
    columns = {}
    for column in contract.columns:
        checks = []
        if column.pattern:
            checks.append(pa.Check.str_matches(column.pattern))
        if column.allowed:
            checks.append(pa.Check.isin(list(column.allowed)))
        if column.minimum is not None:
            checks.append(pa.Check.ge(column.minimum))
        columns[column.name] = pa.Column(pl.from_arrow(_empty(column)).dtype,
                                         checks=checks, nullable=not column.required)
    return pa.DataFrameSchema(columns, strict=False, name="clickstream")


def _empty(column) -> pyarrow.Array:
    return pyarrow.array([], column.arrow_type)


def _check(name: str, passed: bool, value, threshold, detail: str = "") -> dict:
    return {"name": name, "passed": bool(passed), "value": value, "threshold": threshold, "detail": detail}


def _value_checks(events: pl.DataFrame) -> list[dict]:
    checks = []
    try:
        pandera_schema().validate(events, lazy=True)
        failures = pl.DataFrame(schema={"column": pl.String, "check": pl.String, "failure_case": pl.String})
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases.select(pl.col("column").cast(pl.String), pl.col("check").cast(pl.String),
                                            pl.col("failure_case").cast(pl.String))
    for column in contract_mod.load().columns:
        rows = failures.filter(pl.col("column") == column.name)
        examples = rows["failure_case"].head(EXAMPLES).to_list()
        rate = rows.height / max(events.height, 1)
        detail = f"{rows.height} rows fail {sorted(set(rows['check'].to_list()))}, e.g. {examples}" if rows.height else ""
        checks.append(_check(f"column {column.name}", rows.height == 0, round(rate, 6), 0.0, detail))
    return checks


def _quality_checks(events: pl.DataFrame, max_duplicate_rate: float, max_missing_price_rate: float) -> list[dict]:
    duplicates = events.height - events["event_id"].n_unique()
    rate = duplicates / events.height
    priced = events.filter(pl.col("event_type").is_in(["add_to_cart", "purchase"]))
    missing = priced["price"].null_count() / priced.height if priced.height else 0.0
    return [
        _check("duplicate event_id rate", rate <= max_duplicate_rate, round(rate, 6), max_duplicate_rate,
               f"{duplicates} duplicates of {events.height} events"),
        _check("price missing on add_to_cart/purchase", missing <= max_missing_price_rate, round(missing, 6),
               max_missing_price_rate, f"{priced.height} priced events"),
    ]


def _volume_check(window: lake.Window, rows: int, ratio: tuple[float, float]) -> dict:
    length = window.end - window.start
    previous = lake.Window(window.raw, window.start - length, window.start)
    objects = previous.objects(require_every_day=False)
    if not objects:
        return _check("volume vs previous window", True, None, list(ratio),
                      f"no previous window ({previous.start}..{previous.end}): first window, nothing to compare")
    bucket, _ = s3.split(window.raw)
    before = lake.count_rows(bucket, objects)
    value = rows / before if before else float("inf")
    return _check("volume vs previous window", ratio[0] <= value <= ratio[1], round(value, 4), list(ratio),
                  f"{rows} events against {before} in {previous.start}..{previous.end}")


def run(window: lake.Window, max_duplicate_rate: float = MAX_DUPLICATE_RATE,
        max_missing_price_rate: float = MAX_MISSING_PRICE_RATE, volume_ratio=VOLUME_RATIO) -> dict:
    """The validation report (a dict); BadInput on a missing day or an empty window."""
    objects = window.objects()
    bucket, _ = s3.split(window.raw)
    contract = contract_mod.load()
    schema_problems, frames = [], []
    for obj, table in zip(objects, lake.read_objects(bucket, objects)):
        problems = lake.schema_problems(table.schema, f"s3://{bucket}/{obj['Key']}")
        schema_problems.extend(problems)
        if not problems:
            frames.append(pl.from_arrow(table.select([c.name for c in contract.columns])))
    rows = sum(f.height for f in frames)
    if not schema_problems and rows == 0:
        raise BadInput(f"{s3.join(window.raw, contract.prefix)}: window {window.start}..{window.end} has no events")
    checks = [_check("schema", not schema_problems, len(schema_problems), 0,
                     "; ".join(schema_problems[:EXAMPLES]) + (" ..." if len(schema_problems) > EXAMPLES else ""))]
    if frames:
        events = pl.concat(frames)
        checks += _value_checks(events)
        checks += _quality_checks(events, max_duplicate_rate, max_missing_price_rate)
        checks.append(_volume_check(window, rows, volume_ratio))
    manifest = window.manifest(objects)
    return {
        "passed": all(c["passed"] for c in checks),
        "window": {"raw": window.raw, "start": window.start.isoformat(), "end": window.end.isoformat()},
        "rows": rows, "files": len(objects), "data_digest": manifest["digest"],
        "checked_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "checks": checks,
    }
