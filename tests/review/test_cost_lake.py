"""The lake's usage-priced lines: Firehose (MSK ingestion, Parquet conversion, dynamic
partitioning), Athena and Glue, from the volume the stack config assumes. Expectations are
computed from the price table and the stated assumptions, never copied from an output."""
import pytest

from tools.cost import ACTIVE_PARTITIONS, JQ_SECONDS_PER_RECORD, PARQUET_RATIO, estimate, lake_day, load_prices

PRICES = load_prices()
FH = PRICES["firehose"]
GIB = 1024 ** 3
INGEST_URN = "urn:pulumi:t::p::mlops:data:LakeIngest::lake-ingest"


def records(events: int, size: int, interval: int = 300, buffer_mib: int = 128, streams=("clickstream",)):
    ingest = {"urn": INGEST_URN, "type": "mlops:data:LakeIngest", "name": "lake-ingest", "parent": None,
              "inputs": {"eventsPerDay": events, "bytesPerEvent": size, "streams": list(streams)}}
    stream = {"urn": "urn:pulumi:t::p::aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream::lake-ingest-clickstream",
              "type": "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "name": "lake-ingest-clickstream",
              "parent": INGEST_URN, "inputs": {"name": "xyz-prod-clickstream", "extendedS3Configuration": {
                  "bufferingInterval": interval, "bufferingSize": buffer_mib,
                  "dataFormatConversionConfiguration": {"enabled": True},
                  "dynamicPartitioningConfiguration": {"enabled": True}}}}
    workgroup = {"urn": "urn:pulumi:t::p::aws:athena/workgroup:Workgroup::wg", "type": "aws:athena/workgroup:Workgroup",
                 "name": "wg", "parent": None, "inputs": {}}
    glue = [{"urn": f"urn:pulumi:t::p::aws:glue/catalogTable:CatalogTable::{n}", "type": "aws:glue/catalogTable:CatalogTable",
             "name": n, "parent": None, "inputs": {}} for n in ("raw", "features")]
    return [ingest, stream, workgroup, *glue]


def by_item(lines):
    return {item.split(" ")[1] + " " + item.split(" ")[2]: usd for _, item, usd in lines}


def test_seed_scale_day_follows_the_price_table():
    events, size = 50_000_000, 350  # the prod defaults: 5 million users, 10 events each
    lines = by_item(lake_day(records(events, size), PRICES))
    gib = events * size / GIB
    assert lines["MSK ingestion"] == pytest.approx(gib * FH["msk_source_gb"])
    # Conversion bills every record as 5 KB: 350-byte events cost ~15x their size.
    assert lines["Parquet conversion"] == pytest.approx(events * 5 * 1024 / GIB * FH["format_conversion_gb"])
    flushes = max(86400 / 300, gib * 1024 / 128)
    assert lines["dynamic partitioning"] == pytest.approx(
        gib * PARQUET_RATIO * FH["dynamic_partitioning_gb"] + flushes * ACTIVE_PARTITIONS / 1000 * FH["dynamic_partitioning_objects_1000"]
        + events * JQ_SECONDS_PER_RECORD / 3600 * FH["jq_hour"])
    assert lines["1 scan/day"] == pytest.approx(gib * PARQUET_RATIO / 1024 * PRICES["athena"]["tb_scanned"])
    assert lines["Data Catalog"] == 0  # three objects, far under the free million


def test_buffer_size_decides_the_object_count_once_it_fills_before_the_interval():
    # 128 MiB fills every ~6.7 minutes at 40 GiB/day: more objects than 288 interval flushes.
    heavy = [i for _, i, _ in lake_day(records(40 * GIB // 1000, 1000, interval=900), PRICES) if "partitioning" in i]
    assert len(heavy) == 1 and f"{40 * 1024 / 128 * ACTIVE_PARTITIONS:,.0f} objects" in heavy[0]
    light = [i for _, i, _ in lake_day(records(1000, 100, interval=900), PRICES) if "partitioning" in i]
    assert f"{86400 / 900 * ACTIVE_PARTITIONS:,.0f} objects" in light[0]


def test_athena_bills_at_least_ten_megabytes_a_query():
    lines = by_item(lake_day(records(1, 1), PRICES))
    assert lines["1 scan/day"] == pytest.approx(PRICES["athena"]["min_mb_per_query"] / 1024 ** 2 * PRICES["athena"]["tb_scanned"])


def test_month_is_the_day_times_days_in_the_price_month_and_extra_streams_are_reported_unpriced():
    recs = records(50_000_000, 350, streams=("clickstream", "orders"))
    day = sum(usd for _, _, usd in lake_day(recs, PRICES))
    report = estimate(recs, PRICES)
    assert report.monthly == pytest.approx(day * PRICES["hours_per_month"] / 24, abs=0.05)
    assert [u.item for u in report.unpriced] == ["Firehose stream orders"]


def test_no_lake_ingest_no_lake_lines():
    assert lake_day([r for r in records(10, 10) if r["type"] != "mlops:data:LakeIngest"], PRICES) == []
