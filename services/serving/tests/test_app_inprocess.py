"""The app in this process (Starlette's TestClient runs its lifespan: the model loads, Redis is the
real redis-server): the same bad-input cases as test_bad_input.py, which runs them through the
entry point and gunicorn, and the answers to good requests. In-process, so a mutation tool sees
which code each test reaches."""
from __future__ import annotations

import os

import orjson
import pytest
from starlette.testclient import TestClient

from model_server import settings, worker_readiness
from model_server.app import create_app
from tools.build_recsys_model import customer_id

from .conftest import NUM_ITEMS
from .processes import wait_until
from .test_bad_input import BINARY_CASES, INFER, INFER_CASES, KNOWN, RECOMMEND_CASES, binary_request, post_infer, tensor


# Per test, not per module: a mutation run selects the tests that reached the code, and a shared
# app would credit create_app and the model load to the first test alone.
@pytest.fixture
def client(model_path, redis_server, tmp_path_factory):
    saved = os.environ.pop(worker_readiness.ENV, None)  # one process: no sibling workers to count
    env = {"MODEL_URI": str(model_path), "MODEL_NAME": "recsys", "MAX_BATCH_SIZE": "8", "MAX_K": "50",
           "MAX_BODY_BYTES": "4096", "DEFAULT_K": "5", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
           "CACHE_TTL_SECONDS": "600", "CACHE_TIMEOUT_SECONDS": "1", "WORKERS": "1",
           "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("model-cache"))}
    with TestClient(create_app(settings.load(env)), raise_server_exceptions=False) as test_client:
        wait_until(lambda: _ready(test_client), "the model to load in-process")
        yield test_client
    if saved is not None:
        os.environ[worker_readiness.ENV] = saved


def _ready(test_client) -> bool:
    # Until ready the only answer is 400 "model is loading"; anything else fails now, not at the
    # deadline (a broken app would otherwise keep a mutation worker waiting minutes).
    response = test_client.get("/v2/health/ready")
    if response.status_code == 200:
        return True
    assert (response.status_code, response.json()) == (400, {"ready": False, "reason": "model is loading"}), \
        response.text
    return False


@pytest.mark.parametrize("body,status,message", [c[1:] for c in INFER_CASES], ids=[c[0] for c in INFER_CASES])
def test_infer_rejects_with_status_and_message(client, body, status, message):
    response = post_infer(client, body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize("size,tail,message", [c[1:] for c in BINARY_CASES], ids=[c[0] for c in BINARY_CASES])
def test_binary_extension_rejects_with_message(client, size, tail, message):
    header, body = binary_request(size, tail)
    response = client.post(INFER, content=body, headers={"inference-header-content-length": header})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize("path,status,message", [c[1:] for c in RECOMMEND_CASES], ids=[c[0] for c in RECOMMEND_CASES])
def test_get_rejects_with_status_and_message(client, path, status, message):
    response = client.get(path)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_wrong_method_is_405_with_allow(client):
    response = client.get(INFER)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"] == f"Method Not Allowed: GET {INFER}"


def test_infer_answers_each_customer_with_k_items(client):
    ids = [customer_id(3), "C999999123", customer_id(4)]
    response = client.post(INFER, json={"id": "req-1", **tensor(shape=[3], data=ids), "parameters": {"k": 4}})
    assert response.status_code == 200, response.text
    body = response.json()
    version = client.get("/v2/models/recsys").json()["versions"][0]
    assert (body["id"], body["model_name"], body["model_version"]) == ("req-1", "recsys", version)
    outputs = {o["name"]: o for o in body["outputs"]}
    assert list(outputs) == ["skus", "scores", "is_fallback"]
    assert (outputs["skus"]["shape"], outputs["skus"]["datatype"], len(outputs["skus"]["data"])) == ([3, 4], "BYTES", 12)
    assert (outputs["scores"]["shape"], outputs["scores"]["datatype"]) == ([3, 4], "FP32")
    assert outputs["is_fallback"]["data"] == [False, True, False]
    scores = outputs["scores"]["data"]
    # Top-K: each customer's scores come best first.
    assert all(scores[r * 4 + i] >= scores[r * 4 + i + 1] for r in range(3) for i in range(3))


def test_default_k_and_the_catalogue_edge(client):
    body = client.post(INFER, json=tensor()).json()
    assert body["outputs"][0]["shape"] == [1, 5]  # DEFAULT_K
    assert client.post(INFER, json={**tensor(), "parameters": {"k": 50}}).status_code == 200  # MAX_K itself
    assert client.post(INFER, json={**tensor(), "parameters": {"k": 51}}).status_code == 400
    assert client.post(INFER, json=tensor(shape=[8], data=[KNOWN] * 8)).status_code == 200  # MAX_BATCH_SIZE itself
    assert client.post(INFER, json=tensor(shape=[1, 1])).status_code == 200  # [batch, 1] is accepted too


def test_requested_outputs_only_and_binary_outputs(client):
    response = client.post(INFER, json={**tensor(), "outputs": [{"name": "skus"}]})
    assert [o["name"] for o in response.json()["outputs"]] == ["skus"]
    response = client.post(INFER, json={**tensor(), "parameters": {"k": 2},
                                        "outputs": [{"name": "skus", "parameters": {"binary_data": True}}]})
    assert response.status_code == 200 and response.headers["content-type"] == "application/octet-stream"
    header_length = int(response.headers["inference-header-content-length"])
    head = orjson.loads(response.content[:header_length])
    [skus] = head["outputs"]
    tail = response.content[header_length:]
    assert skus["parameters"]["binary_data_size"] == len(tail) and skus["shape"] == [1, 2]
    first = int.from_bytes(tail[:4], "little")
    assert tail[4:4 + first].decode().startswith("SKU")


def test_recommend_for_people(client):
    body = client.get(f"/recommend/{KNOWN}?k=3").json()
    assert (body["model"], body["customer_id"], body["k"], body["is_fallback"]) == ("recsys", KNOWN, 3, False)
    assert len(body["items"]) == 3 and body["items"][0]["score"] >= body["items"][2]["score"]
    assert client.get("/recommend/C999999555").json()["is_fallback"] is True
    assert len(client.get(f"/recommend/{KNOWN}").json()["items"]) == 5
    assert client.get("/recommend/" + "C" * 64).status_code == 200  # 64 characters is the limit itself


def test_metadata_readiness_and_versioned_routes(client):
    server = client.get("/v2").json()
    assert server["name"] == "recsys-model-server" and "binary_tensor_data" in server["extensions"]
    assert client.get("/v2/").json() == server
    meta = client.get("/v2/models/recsys").json()
    assert meta["name"] == "recsys" and len(meta["versions"]) == 1
    assert [i["name"] for i in meta["inputs"]] == ["customer_id"]
    assert [o["name"] for o in meta["outputs"]] == ["skus", "scores", "is_fallback"]
    assert (meta["properties"]["num_items"], meta["properties"]["source"]) == (str(NUM_ITEMS), "local")
    assert "alias" not in meta["properties"]  # a file, not a registry alias
    version = meta["versions"][0]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/recsys/ready").json() == {"name": "recsys", "ready": True}
    assert client.get(f"/v2/models/recsys/versions/{version}/ready").status_code == 200
    assert client.get(f"/v2/models/recsys/versions/{version}").json()["versions"] == [version]
    versioned = client.post(f"/v2/models/recsys/versions/{version}/infer", json=tensor())
    assert versioned.status_code == 200 and versioned.json()["model_version"] == version
    assert client.post("/v2/models/recsys/versions/0/infer", json=tensor()).status_code == 404


def test_metrics_count_requests_by_route_and_code(client):
    client.post(INFER, json=tensor())
    client.get("/recommend/" + "C" * 65)
    text = client.get("/metrics").text
    assert 'model_server_requests_total{code="200",method="POST",model="recsys",route="/v2/models/{name}/infer"' in text
    assert 'code="400",method="GET"' in text and 'route="/recommend/{customer_id}"' in text
    assert "model_server_cache_requests_total" in text and "model_server_inference_duration_seconds_bucket" in text


def test_every_answer_names_the_version_and_draining_closes_connections(client, monkeypatch):
    from model_server import drain

    version = client.get("/v2/models/recsys").json()["versions"][0]
    response = client.post(INFER, json=tensor())
    assert response.headers["x-model-version"] == version and "connection" not in response.headers
    assert client.get("/v2/models/other").headers["x-model-version"] == version  # errors too
    monkeypatch.setattr(drain, "_draining", False)  # restored after the test
    assert drain.draining() is False
    drain.begin()
    assert drain.draining() is True
    response = client.post(INFER, json=tensor())
    assert response.status_code == 200 and response.headers["connection"] == "close"


def padded_body(size: int) -> bytes:
    """A valid infer request of exactly `size` bytes (JSON allows the trailing spaces)."""
    body = orjson.dumps(tensor())
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_limit_is_max_body_bytes_on_both_sides(client, chunked):
    # MAX_BODY_BYTES is 4096 here: a body of exactly the limit is served, one byte more is 413,
    # whether the client declares its length or streams it in chunks smaller than the limit.
    def send(body: bytes):
        if not chunked:
            return client.post(INFER, content=body, headers={"content-type": "application/json"})
        parts = [body[i:i + 1500] for i in range(0, len(body), 1500)]
        assert len(parts) == 3 and all(len(p) < 4096 for p in parts)
        return client.post(INFER, content=iter(parts), headers={"content-type": "application/json"})

    assert send(padded_body(4096)).status_code == 200
    over = send(padded_body(4097))
    assert over.status_code == 413 and over.json()["error"] == "request body exceeds the limit of 4096 bytes"


def test_k_bounds_are_one_and_max_k(client):
    # MAX_K is 50 here (below the 300 items): k from 1 to 50.
    for k, status in ((1, 200), (50, 200), (0, 400), (51, 400)):
        response = client.post(INFER, json={**tensor(), "parameters": {"k": k}})
        assert response.status_code == status, (k, response.text)
    assert client.post(INFER, json={**tensor(), "parameters": {"k": 51}}).json()["error"] == (
        "k must be an integer from 1 to 50, got 51")


def test_an_empty_body_is_named(client):
    response = client.post(INFER, content=b"", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "request body is empty; expected a JSON inference request"


def test_request_metrics_count_each_answer_once_with_its_duration(client, monkeypatch):
    import types

    from model_server import instrumentation

    from .metrics_text import value

    version = client.get("/v2/models/recsys").json()["versions"][0]
    infer = {"route": "/v2/models/{name}/infer", "model": "recsys", "version": version}

    def read() -> dict[str, float]:
        text = client.get("/metrics").text
        return {"ok": value(text, "model_server_requests_total", method="POST", code="200", **infer),
                "bad": value(text, "model_server_requests_total", method="POST", code="400", **infer),
                "unmatched": value(text, "model_server_requests_total", route="unmatched", method="GET",
                                   code="404", model="recsys", version=version),
                "count": value(text, "model_server_request_duration_seconds_count", **infer),
                "sum": value(text, "model_server_request_duration_seconds_sum", **infer),
                "le_0.25": value(text, "model_server_request_duration_seconds_bucket", le="0.25", **infer),
                "le_0.5": value(text, "model_server_request_duration_seconds_bucket", le="0.5", **infer)}

    # A clock that advances 0.3 s per request: the duration is the difference, in the 0.5 bucket.
    ticks = iter(x * 0.15 for x in range(1000))
    monkeypatch.setattr(instrumentation, "time", types.SimpleNamespace(perf_counter=lambda: 1000 + next(ticks)))
    before = read()
    ticks = iter([1000.0, 1000.3, 2000.0, 2000.3, 3000.0, 3000.3])  # three requests, 0.3 s each
    for body in (tensor(), tensor(), tensor(datatype="INT64")):
        client.post(INFER, json=body)
    monkeypatch.setattr(instrumentation, "time", types.SimpleNamespace(perf_counter=lambda: 0.0))
    client.get("/nope/123")
    after = read()
    delta = {k: round(after[k] - before[k], 6) for k in before}
    assert delta == {"ok": 2, "bad": 1, "unmatched": 1, "count": 3, "sum": 0.9, "le_0.25": 0, "le_0.5": 3}


def test_json_answers_say_so(client):
    for response in (client.post(INFER, json=tensor()), client.get("/v2/models/other"), client.get(INFER)):
        assert response.headers["content-type"] == "application/json", response.status_code


def test_read_body_counts_every_chunk_of_a_streamed_body():
    import asyncio

    from starlette.requests import Request

    from model_server.app import read_body
    from model_server.errors import ClientError

    def request(parts: list[bytes]) -> Request:
        messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]

        async def receive():
            return messages.pop(0)

        return Request({"type": "http", "method": "POST", "headers": []}, receive)

    assert asyncio.run(read_body(request([b"a" * 3000, b"b" * 1096]), 4096)) == b"a" * 3000 + b"b" * 1096
    with pytest.raises(ClientError, match="^request body exceeds the limit of 4096 bytes$"):
        asyncio.run(read_body(request([b"a" * 3000, b"b" * 1097]), 4096))


def test_server_metadata_and_people_answers_are_exact(client):
    # The protocol's server metadata: name, version, extensions; served at /v2 itself, no redirect.
    for path in ("/v2", "/v2/"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 200, path
        assert response.json() == {"name": "recsys-model-server", "version": "2", "extensions": ["binary_tensor_data"]}
    version = client.get("/v2/models/recsys").json()["versions"][0]
    body = client.get(f"/recommend/{KNOWN}?k=2").json()
    assert set(body) == {"model", "version", "customer_id", "k", "is_fallback", "items"} and body["version"] == version
    assert [set(item) for item in body["items"]] == [{"sku", "score"}, {"sku", "score"}]
    assert all(isinstance(i["sku"], str) and isinstance(i["score"], float) for i in body["items"])


def test_an_unforeseen_error_is_a_generic_500_and_logged(client, monkeypatch, caplog):
    import logging

    def broken(*args, **kwargs):
        raise RuntimeError("onnxruntime exploded")

    monkeypatch.setattr(client.app.state.model.service, "recommend", broken)
    with caplog.at_level(logging.ERROR, logger="model_server.app"):
        response = client.get(f"/recommend/{KNOWN}")
    assert (response.status_code, response.json()) == (500, {"error": "internal error; see the server log"})
    [record] = [r for r in caplog.records if r.name == "model_server.app"]
    assert record.getMessage() == "unhandled error" and record.path == f"/recommend/{KNOWN}" and record.exc_info


def test_a_model_that_is_not_there_answers_503_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv(worker_readiness.ENV, raising=False)
    missing = tmp_path / "missing.onnx"
    env = {"MODEL_URI": str(missing), "MODEL_LOAD_RETRY_SECONDS": "0.05", "WORKERS": "1"}
    with TestClient(create_app(settings.load(env)), raise_server_exceptions=False) as test_client:
        wait_until(lambda: "does not exist" in test_client.get("/v2/health/ready").text, "the first load attempt")
        for response in (test_client.post(INFER, json=tensor()), test_client.get("/v2/models/recsys"),
                         test_client.get(f"/recommend/{KNOWN}")):
            assert response.status_code == 503
            assert response.json()["error"] == (
                f"model 'recsys' is not ready: model failed to load: model path {missing} does not exist")
