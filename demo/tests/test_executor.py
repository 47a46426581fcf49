"""demo/executor.py: the Seldon executor's stand-in forwards a request to one predictor as it came,
answers with what the predictor answered, 503 when the predictor is down, and counts every
request in the executor histogram of the metric contract."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.local_platform import SERVING_PYTHON, free_port
from observability.metrics_contract import EXECUTOR_BUCKETS
from observability.release_queries import EXECUTOR
from started import start_service


class _ModelServer(BaseHTTPRequestHandler):
    """Answers like the model server: the version it served in the body; ?fail=1 is a 500."""
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.seen.append({"path": self.path, "body": body, "content_type": self.headers.get("content-type")})
        failed = "fail=1" in self.path
        answer = json.dumps({"model_version": "7", **({"error": "boom"} if failed else {"outputs": []})}).encode()
        self.send_response(500 if failed else 200)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def model_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def executor(tmp_path):
    started = []

    def start(stable: str, canary: str, canary_percent: str) -> str:
        process, url, _ = start_service([str(SERVING_PYTHON), "-m", "demo.executor", "--stable", stable, "--canary",
                                         canary, "--canary-percent", canary_percent, "--deployment", "recsys"],
                                        tmp_path, "executor", "/prometheus")
        started.append(process)
        return url
    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=15)


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def count(url: str, **labels: str) -> float:
    """The histogram's _count sample with exactly these labels (0 if absent)."""
    text = urllib.request.urlopen(f"{url}/prometheus", timeout=15).read().decode()
    return next((s.value for family in text_string_to_metric_families(text) for s in family.samples
                 if s.name == f"{EXECUTOR}_count" and s.labels == labels), 0.0)


def test_a_request_reaches_the_stable_predictor_as_sent_and_is_counted(model_server, executor):
    _ModelServer.seen.clear()
    url = executor(model_server, model_server, "0")
    body = b'{"inputs": [{"name": "customer_id", "shape": [1], "datatype": "BYTES", "data": ["c-1"]}]}'
    status, headers, answer = post(f"{url}/v2/models/recsys/infer?k=5&k=6", body, "application/json")
    assert (status, json.loads(answer)["model_version"]) == (200, "7")
    assert headers["x-predictor"] == "stable" and headers["content-type"].startswith("application/json")
    assert _ModelServer.seen == [{"path": "/v2/models/recsys/infer?k=5&k=6", "body": body,
                                  "content_type": "application/json"}]
    assert count(url, deployment_name="recsys", predictor_name="stable", predictor_version="7",
                 method="POST", code="200") == 1
    # The predictor's own error goes back as it was, counted under its code and no version.
    status, _, answer = post(f"{url}/v2/models/recsys/infer?fail=1", body)
    assert (status, answer) == (500, b'{"model_version": "7", "error": "boom"}')
    assert count(url, deployment_name="recsys", predictor_name="stable", predictor_version="",
                 method="POST", code="500") == 1
    text = urllib.request.urlopen(f"{url}/prometheus", timeout=15).read().decode()
    assert f'le="{EXECUTOR_BUCKETS[0]}"' in text


def test_a_predictor_that_is_down_is_a_503_counted_against_it(model_server, executor):
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    url = executor(model_server, down, "100")
    status, headers, answer = post(f"{url}/v2/models/recsys/infer", b"{}")
    assert status == 503 and headers["x-predictor"] == "canary"
    assert "error" in json.loads(answer)
    assert count(url, deployment_name="recsys", predictor_name="canary", predictor_version="",
                 method="POST", code="503") == 1
