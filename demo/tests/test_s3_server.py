"""demo/s3_server.py: moto's S3 app alone, as the demo's platform starts it."""
from __future__ import annotations

import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from demo.local_platform import REPO
from started import start_service


@pytest.fixture
def s3_server(tmp_path):
    process, url, log = start_service([sys.executable, "-m", "demo.s3_server"], tmp_path, "s3")
    yield url, log
    process.terminate()
    process.wait(timeout=15)


def test_it_answers_the_s3_calls_the_pipeline_makes_and_logs_no_request(s3_server):
    url, log = s3_server
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="lake-raw")
    key = "clickstream/dt=2026-02-02/hour=00/part-00000.parquet"
    client.put_object(Bucket="lake-raw", Key=key, Body=b"PAR1")
    assert client.get_object(Bucket="lake-raw", Key=key)["Body"].read() == b"PAR1"
    listed = client.list_objects_v2(Bucket="lake-raw", Prefix="clickstream/dt=2026-02-02/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    with pytest.raises(ClientError) as missing:
        client.get_object(Bucket="lake-raw", Key="clickstream/none.parquet")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    # Thousands of requests per demo: none of them is a log line.
    assert "GET /lake-raw" not in log.read_text() and "PUT /lake-raw" not in log.read_text()


def test_a_bad_port_exits_2_with_one_line():
    done = subprocess.run([sys.executable, "-m", "demo.s3_server", "--port", "http"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m demo.s3_server: argument --port: invalid int value: 'http'"]
