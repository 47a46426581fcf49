"""S3 access for every step: s3:// URIs in arguments, boto3 underneath.

boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3), so the same code runs against moto
or another S3-compatible store without a flag. Local paths work too (a team training on its
own Parquet file), so every function takes either.
"""
from __future__ import annotations

import io
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import BadInput


_CLIENT_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def client():
    # A botocore client is thread-safe, creating one on boto3's default session is not: the
    # lake reads fan out over threads (lake.S3_CONCURRENCY), and the first of them creates it.
    with _CLIENT_LOCK:
        return boto3.client("s3")


def split(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> ("bucket", "a/b")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise BadInput(f"{uri!r} is not an s3://<bucket>/<prefix> URI")
    return parsed.netloc, parsed.path.lstrip("/")


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def _fail(uri: str, exc: Exception) -> BadInput:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    if code in ("NoSuchKey", "404", "NotFound"):
        return BadInput(f"{uri}: no such object")
    if code == "NoSuchBucket":
        return BadInput(f"{uri}: no such bucket")
    return BadInput(f"{uri}: S3 error {code}")


def put_bytes(uri: str, body: bytes, content_type: str = "application/octet-stream") -> None:
    if not is_s3(uri):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        Path(uri).write_bytes(body)
        return
    bucket, key = split(uri)
    try:
        client().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(uri, exc) from None


def get_bytes(uri: str) -> bytes:
    if not is_s3(uri):
        try:
            return Path(uri).read_bytes()
        except OSError:
            raise BadInput(f"{uri}: no such file") from None
    bucket, key = split(uri)
    try:
        return client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(uri, exc) from None


def exists(uri: str) -> bool:
    if not is_s3(uri):
        return Path(uri).exists()
    bucket, key = split(uri)
    try:
        client().head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError:
        return False


def list_objects(uri: str) -> list[dict]:
    """Objects under a prefix, sorted by key: [{"Key", "ETag", "Size"}, ...]."""
    bucket, prefix = split(uri)
    try:
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted((obj for page in pages for obj in page.get("Contents", [])), key=lambda o: o["Key"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(uri, exc) from None


def put_json(uri: str, document: dict) -> None:
    put_bytes(uri, json.dumps(document, indent=2, sort_keys=True).encode(), "application/json")


def get_json(uri: str) -> dict:
    try:
        return json.loads(get_bytes(uri))
    except ValueError:
        raise BadInput(f"{uri}: not valid JSON") from None


def put_table(uri: str, table: pa.Table | pl.DataFrame) -> None:
    if isinstance(table, pl.DataFrame):
        table = table.to_arrow()
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    put_bytes(uri, sink.getvalue())


def get_table(uri: str) -> pa.Table:
    """The Parquet object at `uri`, read on this thread; BadInput when it is not Parquet.

    ParquetFile.read rather than pq.read_table, whose dataset machinery cost 1.3-1.8 ms of CPU
    per file against 0.40-0.45 ms (an hour of the small demo's lake, 4.5 KB, same table;
    2026-12-01), and one thread: a window's files are already read S3_CONCURRENCY at a time."""
    return _from_parquet(uri, lambda parquet: parquet.read(use_threads=False))


def get_num_rows(uri: str) -> int:
    """Rows of the Parquet object at `uri`, from its footer (no column is decoded); BadInput
    when it is not Parquet."""
    return _from_parquet(uri, lambda parquet: parquet.metadata.num_rows)


def _from_parquet(uri: str, take):
    body = get_bytes(uri)
    try:
        return take(pq.ParquetFile(pa.BufferReader(body)))
    except pa.ArrowInvalid:
        raise BadInput(f"{uri}: not a Parquet file") from None


def get_frame(uri: str) -> pl.DataFrame:
    return pl.from_arrow(get_table(uri))


def endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
