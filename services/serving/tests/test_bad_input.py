"""Every kind of bad input gets a 4xx that says what was wrong, and never takes the server down."""
from __future__ import annotations

import pytest

from .conftest import NUM_ITEMS, NUM_USERS, cache_env
from .metrics_text import samples
from .processes import ModelServer

INFER = "/v2/models/recsys/infer"


def tensor(**overrides):
    base = {"name": "user_id", "shape": [1], "datatype": "INT64", "data": [1]}
    return {"inputs": [{**base, **overrides}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_path, redis_server):
    env = {"MODEL_URI": str(model_path), "MAX_BATCH_SIZE": "8", "MAX_K": "50",
           "MAX_BODY_BYTES": "4096", **cache_env(redis_server)}
    server = ModelServer(tmp_path_factory.mktemp("bad-input"), env).start()
    yield server
    server.terminate()


INFER_CASES = [
    ("malformed JSON", b'{"inputs": [', 400, "not valid JSON"),
    ("empty body", b"", 400, "request body is empty"),
    ("JSON that is not an object", b"[1, 2]", 400, "must be a JSON object"),
    ("no inputs", {"parameters": {}}, 400, "'inputs' must be a non-empty list"),
    ("wrong tensor name", tensor(name="users"), 400, "exactly one input 'user_id'"),
    ("two tensors", {"inputs": tensor()["inputs"] * 2}, 400, "exactly one input 'user_id'"),
    ("wrong datatype", tensor(datatype="FP32", data=[1.0]), 400, "datatype 'FP32'"),
    ("bytes datatype", tensor(datatype="BYTES", data=["1"]), 400, "datatype 'BYTES'"),
    ("wrong shape rank", tensor(shape=[1, 1, 1]), 400, "expected [batch] or [batch, 1]"),
    ("wrong second dim", tensor(shape=[1, 2], data=[1, 2]), 400, "expected [batch] or [batch, 1]"),
    ("shape and data disagree", tensor(shape=[3], data=[1, 2]), 400, "flat 'data' list of 3 ids"),
    ("non-integer ids", tensor(data=["7"]), 400, "data must be integers"),
    ("boolean ids", tensor(data=[True]), 400, "data must be integers"),
    ("empty batch", tensor(shape=[0], data=[]), 400, "empty batch"),
    ("oversized batch", tensor(shape=[9], data=list(range(9))), 400,
     "batch of 9 user ids exceeds the limit of 8"),
    ("unknown user", tensor(data=[NUM_USERS + 5]), 400, f"unknown user id(s): {NUM_USERS + 5}"),
    ("negative user", tensor(data=[-1]), 400, "unknown user id(s): -1"),
    ("id beyond INT64", tensor(data=[2**63]), 400, "outside the INT64 range"),
    ("id beyond 64 bits", tensor(data=[2**70]), 400, "data must be integers"),
    ("k zero", {**tensor(), "parameters": {"k": 0}}, 400, "k must be an integer from 1 to 50"),
    ("k above MAX_K", {**tensor(), "parameters": {"k": 51}}, 400, "k must be an integer from 1 to 50"),
    ("k not a number", {**tensor(), "parameters": {"k": "ten"}}, 400, "got 'ten'"),
    ("parameters not an object", {**tensor(), "parameters": [1]}, 400, "'parameters' must be"),
    ("unknown output", {**tensor(), "outputs": [{"name": "embedding"}]}, 400, "unknown output(s)"),
    ("body over MAX_BODY_BYTES", tensor(data=[1], pad="x" * 5000), 413, "exceeds the limit of 4096 bytes"),
]


@pytest.mark.parametrize("body,status,message",
                         [c[1:] for c in INFER_CASES], ids=[c[0] for c in INFER_CASES])
def test_infer_rejects_with_status_and_message(server, body, status, message):
    if isinstance(body, bytes):
        response = server.post(INFER, content=body, headers={"content-type": "application/json"})
    else:
        response = server.post(INFER, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


RECOMMEND_CASES = [
    ("non-integer user", "/recommend/alice", 400, "user_id must be an integer, got 'alice'"),
    ("unknown user", f"/recommend/{NUM_USERS}", 404, f"unknown user {NUM_USERS}"),
    ("k not a number", "/recommend/1?k=many", 400, "k must be an integer, got 'many'"),
    ("k zero", "/recommend/1?k=0", 400, "k must be an integer from 1 to 50"),
    ("k too large", "/recommend/1?k=1000", 400, "k must be an integer from 1 to 50"),
    ("unknown model", "/v2/models/other/ready", 404, "model 'other' not found"),
    ("unknown path", "/v1/predictions", 404, "Not Found"),
]


@pytest.mark.parametrize("path,status,message",
                         [c[1:] for c in RECOMMEND_CASES], ids=[c[0] for c in RECOMMEND_CASES])
def test_get_rejects_with_status_and_message(server, path, status, message):
    response = server.get(path)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_unknown_model_name_on_infer_is_404(server):
    response = server.post("/v2/models/ranker/infer", json=tensor())
    assert response.status_code == 404
    assert "model 'ranker' not found; this server serves 'recsys'" in response.json()["error"]


def test_wrong_method_is_405(server):
    response = server.get(INFER)
    assert response.status_code == 405
    assert "Method Not Allowed" in response.json()["error"]


def test_k_is_capped_by_the_catalogue_size(tmp_path, model_path, start_server):
    # MAX_K above the number of items: the catalogue is the real bound.
    server = start_server({"MODEL_URI": str(model_path), "MAX_K": "100000"})
    response = server.infer([1], k=NUM_ITEMS + 1)
    assert response.status_code == 400
    assert f"k must be an integer from 1 to {NUM_ITEMS}" in response.json()["error"]
    assert server.infer([1], k=NUM_ITEMS).status_code == 200


def test_bad_input_never_yields_a_5xx_or_a_traceback(server):
    # Runs after the cases above in this module (pytest keeps file order).
    assert server.get("/v2/health/live").status_code == 200
    assert server.infer([1, 2]).status_code == 200
    codes = {s.labels["code"] for s in samples(server.get("/metrics").text)
             if s.name == "model_server_requests_total"}
    assert {"400", "404", "405", "413"} <= codes
    assert not any(code.startswith("5") for code in codes), codes
    assert "Traceback" not in server.logs()
    assert server.process.poll() is None
