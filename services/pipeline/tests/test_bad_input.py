"""Bad input: one line naming the input and what is allowed, exit 2; never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa

from pipeline import s3
from pipeline.__main__ import main

from .conftest import RAW, START, run

SERVICE = Path(__file__).resolve().parents[1]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def test_missing_partitions(lake, capsys):
    assert run("validate", "--raw", RAW, "--start", "2026-03-06", "--end", "2026-03-12", "--report", "s3://lake-features/x.json") == 2
    line = one_line(capsys)
    assert "s3://lake-raw/clickstream/dt=2026-03-09/: no partitions" in line and "missing 3 day(s)" in line


def test_empty_window_and_bad_dates(lake, capsys):
    assert run("features", "--raw", RAW, "--train-start", "2026-03-05", "--train-end", "2026-03-05",
               "--holdout-end", "2026-03-06", "--out", "s3://lake-features/x") == 2
    assert "window 2026-03-05..2026-03-05 is empty" in one_line(capsys)
    assert run("validate", "--raw", RAW, "--start", "2026-13-01", "--end", "2026-03-05", "--report", "x.json") == 2
    assert "--start '2026-13-01' is not a date YYYY-MM-DD" in one_line(capsys)


def test_wrong_schema_stops_features_and_fails_validation(aws, capsys):
    bad = pl.DataFrame({"event_id": ["0" * 32], "event_time": ["2026-03-02T10:00:00Z"], "customer_id": ["C123456789"]})
    key = "s3://lake-raw/broken/clickstream/dt=2026-03-02/hour=10/part-00000.parquet"
    s3.put_table(key, bad)
    assert run("features", "--raw", "s3://lake-raw/broken", "--train-start", "2026-03-02", "--train-end", "2026-03-03",
               "--holdout-end", "2026-03-03", "--out", "s3://lake-features/x") == 2
    assert "window 2026-03-03..2026-03-03 is empty" in one_line(capsys)
    assert run("features", "--raw", "s3://lake-raw/broken", "--train-start", "2026-03-02", "--train-end", "2026-03-03",
               "--holdout-end", "2026-03-04", "--out", "s3://lake-features/x") == 2
    line = one_line(capsys)
    assert line.startswith(f"pipeline features: {key}: column event_time is large_string, the contract says timestamp[ms, UTC] (and 5 more problems)")
    assert run("validate", "--raw", "s3://lake-raw/broken", "--start", "2026-03-02", "--end", "2026-03-03",
               "--report", "s3://lake-features/broken.json") == 3
    line = one_line(capsys)
    assert "schema = " in line and "required column event_type is missing" in line
    report = s3.get_json("s3://lake-features/broken.json")
    assert report["passed"] is False and report["checks"][0]["name"] == "schema"


def test_bad_values_fail_validation_with_the_column(lake, capsys):
    key = "clickstream/dt=2026-03-02/hour=05/part-00000.parquet"
    good = s3.get_table(f"{RAW}/{key}")
    ids = good.column("customer_id").to_pylist()
    ids[0] = "customer-1"
    broken = good.set_column(good.schema.get_field_index("customer_id"), "customer_id", pa.array(ids))
    s3.put_table(f"s3://lake-raw/values/{key}", broken)
    assert run("validate", "--raw", "s3://lake-raw/values", "--start", "2026-03-02", "--end", "2026-03-03",
               "--report", "s3://lake-features/values.json") == 3
    line = one_line(capsys)
    assert "column customer_id" in line and "customer-1" in line


def test_train_on_a_table_without_the_columns(aws, capsys):
    s3.put_table("s3://lake-features/other.parquet", pl.DataFrame({"user": ["a"], "item": ["b"]}))
    assert run("train", "--interactions", "s3://lake-features/other.parquet", "--out", "s3://lake-features/m") == 2
    assert "column customer_id is missing (has user, item)" in one_line(capsys)
    assert run("train", "--interactions", "s3://lake-features/nothing.parquet", "--out", "s3://lake-features/m") == 2
    assert "s3://lake-features/nothing.parquet: no such object" in one_line(capsys)


def test_argument_errors_are_one_line(capsys):
    try:
        main(["train", "--interactions", "x", "--out", "y", "--epochs", "many"])
    except SystemExit as exit:
        assert exit.code == 2
    else:
        raise AssertionError("argparse accepted --epochs many")
    assert "argument --epochs: invalid int value: 'many'" in one_line(capsys)


def test_cli_in_a_subprocess_unknown_step_and_missing_release():
    result = subprocess.run([sys.executable, "-m", "pipeline", "fly"], cwd=SERVICE, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "unknown step 'fly'" in result.stderr


def test_release_is_dispatched_lazily(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pipeline.release.cli", None)  # as if the subpackage were absent
    assert main(["release", "start"]) == 2
    assert "release controller is not installed" in one_line(capsys)


def test_an_object_that_is_not_parquet_is_named(aws, capsys):
    # In the window being validated, and in the previous window the volume check counts rows in.
    key = "s3://lake-raw/junk/clickstream/dt=2026-03-03/hour=07/part-00000.parquet"
    s3.put_bytes(key, b"not parquet at all")
    assert run("validate", "--raw", "s3://lake-raw/junk", "--start", "2026-03-03", "--end", "2026-03-04",
               "--report", "s3://lake-features/junk.json") == 2
    assert one_line(capsys) == f"pipeline validate: {key}: not a Parquet file"
    s3.put_table("s3://lake-raw/junk/clickstream/dt=2026-03-04/hour=07/part-00000.parquet",
                 s3.get_table(f"{RAW}/clickstream/dt=2026-03-04/hour=07/part-00000.parquet"))
    assert run("validate", "--raw", "s3://lake-raw/junk", "--start", "2026-03-04", "--end", "2026-03-05",
               "--report", "s3://lake-features/junk.json") == 2
    assert one_line(capsys) == f"pipeline validate: {key}: not a Parquet file"
