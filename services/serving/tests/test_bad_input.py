"""Every kind of bad input gets a 4xx that names the field and what was wrong, and never takes the
server down; a customer the model never saw is not bad input (popularity fallback, 200)."""
from __future__ import annotations

import pytest

from tools.build_recsys_model import customer_id

from .conftest import NUM_ITEMS, cache_env
from .metrics_text import samples
from .processes import ModelServer

INFER = "/v2/models/recsys/infer"
KNOWN = customer_id(1)


def tensor(**overrides):
    base = {"name": "customer_id", "shape": [1], "datatype": "BYTES", "data": [KNOWN]}
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
    ("JSON that is not an object", b"[1, 2]", 400, "must be a JSON object with an 'inputs' list"),
    ("no inputs", {"parameters": {}}, 400, "field 'inputs' is required"),
    ("empty inputs", {"inputs": []}, 400, "field 'inputs': List should have at least 1 item"),
    ("inputs not a list", {"inputs": {"name": "customer_id"}}, 400, "field 'inputs': Input should be a valid array"),
    ("tensor not an object", {"inputs": ["customer_id"]}, 400, "field 'inputs[0]'"),
    ("tensor name a number", tensor(name=5), 400, "field 'inputs[0].name': Input should be a valid string"),
    ("tensor without shape", {"inputs": [{"name": "customer_id", "datatype": "BYTES", "data": ["a"]}]},
     400, "field 'inputs[0].shape' is required"),
    ("shape of strings", tensor(shape=["1"]), 400, "field 'inputs[0].shape[0]': Input should be a valid integer"),
    ("negative shape", tensor(shape=[-1]), 400, "field 'inputs[0].shape[0]'"),
    ("boolean shape", tensor(shape=[True]), 400, "field 'inputs[0].shape[0]': Input should be a valid integer"),
    ("datatype a list", tensor(datatype=["BYTES"]), 400, "field 'inputs[0].datatype': Input should be a valid string"),
    ("wrong tensor name", tensor(name="user_id"), 400, "exactly one input 'customer_id'"),
    ("two tensors", {"inputs": tensor()["inputs"] * 2}, 400, "exactly one input 'customer_id'"),
    ("integer datatype", tensor(datatype="INT64", data=[1]), 400,
     "field 'inputs[0].datatype' is 'INT64'; customer ids are strings: expected BYTES"),
    ("wrong shape rank", tensor(shape=[1, 1, 1]), 400, "expected [batch] or [batch, 1]"),
    ("wrong second dim", tensor(shape=[1, 2], data=[KNOWN, KNOWN]), 400, "expected [batch] or [batch, 1]"),
    ("shape and data disagree", tensor(shape=[3], data=[KNOWN, KNOWN]), 400, "needs 3 ids in 'data', got 2"),
    ("integer ids", tensor(data=[7]), 400, "field 'inputs[0].data' holds 7; customer ids are strings"),
    ("boolean ids", tensor(data=[True]), 400, "field 'inputs[0].data' holds True"),
    ("nested object ids", tensor(data=[{"id": KNOWN}]), 400, "field 'inputs[0].data' holds {'id'"),
    ("empty id", tensor(data=[""]), 400, "strings of 1 to 64 characters"),
    ("id over 64 characters", tensor(data=["C" * 65]), 400, "strings of 1 to 64 characters"),
    ("no data", {"inputs": [{"name": "customer_id", "shape": [1], "datatype": "BYTES"}]}, 400,
     "field 'inputs[0].data' is required"),
    ("data not an array", tensor(data=KNOWN), 400, "field 'inputs[0].data' must be an array"),
    ("empty batch", tensor(shape=[0], data=[]), 400, "empty batch"),
    ("oversized batch", tensor(shape=[9], data=[KNOWN] * 9), 400,
     "batch of 9 customer ids exceeds the limit of 8"),
    ("k zero", {**tensor(), "parameters": {"k": 0}}, 400, "k must be an integer from 1 to 50"),
    ("k above MAX_K", {**tensor(), "parameters": {"k": 51}}, 400, "k must be an integer from 1 to 50"),
    ("k not a number", {**tensor(), "parameters": {"k": "ten"}}, 400, "got 'ten'"),
    ("k a boolean", {**tensor(), "parameters": {"k": True}}, 400, "got True"),
    ("parameters not an object", {**tensor(), "parameters": [1]}, 400,
     "field 'parameters': Input should be an object"),
    ("id a number", {**tensor(), "id": 42}, 400, "field 'id': Input should be a valid string, got 42"),
    ("outputs not a list", {**tensor(), "outputs": "skus"}, 400, "field 'outputs': Input should be a valid array"),
    ("output name a list", {**tensor(), "outputs": [{"name": ["skus"]}]}, 400,
     "field 'outputs[0].name': Input should be a valid string, got ['skus']"),
    ("output without name", {**tensor(), "outputs": [{}]}, 400, "field 'outputs[0].name' is required"),
    ("unknown output", {**tensor(), "outputs": [{"name": "embedding"}]}, 400,
     "field 'outputs[0].name' is 'embedding'"),
    ("binary_data not a bool", {**tensor(), "outputs": [{"name": "skus", "parameters": {"binary_data": 1}}]},
     400, "field 'outputs[0].parameters.binary_data' must be true or false"),
    ("output parameters a list", {**tensor(), "outputs": [{"name": "skus", "parameters": []}]}, 400,
     "field 'outputs[0].parameters': Input should be an object"),
    ("body over MAX_BODY_BYTES", tensor(data=[KNOWN], pad="x" * 5000), 413, "exceeds the limit of 4096 bytes"),
]


@pytest.mark.parametrize("body,status,message",
                         [c[1:] for c in INFER_CASES], ids=[c[0] for c in INFER_CASES])
def test_infer_rejects_with_status_and_message(server, body, status, message):
    response = post_infer(server, body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def post_infer(client, body):
    """POSTs an INFER_CASES body: bytes as they are (malformed JSON), anything else as JSON."""
    if isinstance(body, bytes):
        return client.post(INFER, content=body, headers={"content-type": "application/json"})
    return client.post(INFER, json=body)


BINARY_CASES = [
    ("header beyond the body", "500", b'{"inputs": []}', "header 'Inference-Header-Content-Length' is '500'"),
    ("header not a number", "ten", b"{}", "header 'Inference-Header-Content-Length' is 'ten'"),
    ("binary tail without binary_data_size", None, b"\x01\x00\x00\x00A",
     "no input declares 'parameters.binary_data_size'"),
    ("binary_data_size disagrees", 3, b"\x01\x00\x00\x00A", "'inputs[0].parameters.binary_data_size' is 3"),
    ("length prefix cut", 2, b"\x01\x00", "ends inside an element's length prefix"),
    ("element shorter than its length", 6, b"\x09\x00\x00\x00AB", "shorter than its element lengths say"),
    ("not UTF-8", 5, b"\x01\x00\x00\x00\xff", "holds an id that is not UTF-8"),
    ("fewer ids than the shape", 0, b"", "binary data holds 0 ids; shape says 1"),
]


def binary_request(size, tail: bytes) -> tuple[str, bytes]:
    """(Inference-Header-Content-Length, body) of a BINARY_CASES case: `size` a string is a
    broken header sent with `tail` as the body; else a JSON head declaring binary_data_size
    `size` (None: no binary tensor) followed by `tail`."""
    import orjson

    if isinstance(size, str):
        return size, tail
    parameters = {} if size is None else {"binary_data_size": size}
    head = orjson.dumps({"inputs": [{"name": "customer_id", "shape": [1], "datatype": "BYTES",
                                     "parameters": parameters}]})
    if size is None:
        head = orjson.dumps(tensor())
    return str(len(head)), head + tail


@pytest.mark.parametrize("size,tail,message", [c[1:] for c in BINARY_CASES], ids=[c[0] for c in BINARY_CASES])
def test_binary_extension_rejects_with_message(server, size, tail, message):
    header, body = binary_request(size, tail)
    response = server.post(INFER, content=body, headers={"inference-header-content-length": header})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


RECOMMEND_CASES = [
    ("id over 64 characters", "/recommend/" + "C" * 65, 400, "customer_id has 65 characters; at most 64"),
    ("k not a number", f"/recommend/{KNOWN}?k=many", 400, "k must be an integer, got 'many'"),
    ("k zero", f"/recommend/{KNOWN}?k=0", 400, "k must be an integer from 1 to 50"),
    ("k too large", f"/recommend/{KNOWN}?k=1000", 400, "k must be an integer from 1 to 50"),
    ("unknown model", "/v2/models/other/ready", 404, "model 'other' not found"),
    ("unknown version", "/v2/models/recsys/versions/999/ready", 404, "version '999' not found"),
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


def test_wrong_method_is_405_with_allow(server):
    for path, allowed in ((INFER, "POST"), ("/v2/models/recsys", "GET"), ("/v2/health/ready", "GET")):
        response = server.request("DELETE" if allowed == "GET" else "GET", path)
        assert response.status_code == 405, path
        assert allowed in response.headers["allow"].split(", "), path
        assert "Method Not Allowed" in response.json()["error"]


def test_k_is_capped_by_the_catalogue_size(tmp_path, model_path, start_server):
    # MAX_K above the number of items: the catalogue is the real bound.
    server = start_server({"MODEL_URI": str(model_path), "MAX_K": "100000"})
    response = server.infer([KNOWN], k=NUM_ITEMS + 1)
    assert response.status_code == 400
    assert f"k must be an integer from 1 to {NUM_ITEMS}" in response.json()["error"]
    assert server.infer([KNOWN], k=NUM_ITEMS).status_code == 200


def test_bad_input_never_yields_a_5xx_or_a_traceback(server):
    # Runs after the cases above in this module (pytest keeps file order).
    assert server.get("/v2/health/live").status_code == 200
    assert server.infer([KNOWN, "C999999999"]).status_code == 200
    codes = {s.labels["code"] for s in samples(server.get("/metrics").text)
             if s.name == "model_server_requests_total"}
    assert {"400", "404", "405", "413"} <= codes
    assert not any(code.startswith("5") for code in codes), codes
    assert "Traceback" not in server.logs()
    assert server.process.poll() is None
