"""Open Inference Protocol conformance, driven by a real client (tritonclient's HTTP client, whose
default is the binary tensor extension) and by plain requests for what the client does not send."""
from __future__ import annotations

import numpy as np
import pytest

from model_server.recommender import Recommender
from tools.build_recsys_model import customer_id as C

from .processes import ModelServer

UNSEEN = "C999999999"


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_path):
    server = ModelServer(tmp_path_factory.mktemp("oip"), {"MODEL_URI": str(model_path)}).start()
    yield server
    server.terminate()


@pytest.fixture(scope="module")
def client(server):
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def expected(model_path):
    result, _ = Recommender(model_path).recommend(np.array([C(1), UNSEEN], dtype=object), 4)
    return result


def customer_input(binary: bool, ids=(C(1), UNSEEN)):
    import tritonclient.http as triton

    tensor = triton.InferInput("customer_id", [len(ids)], "BYTES")
    tensor.set_data_from_numpy(np.array(ids, dtype=object), binary_data=binary)
    return tensor


def test_health_and_metadata_through_the_client(client, server):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("recsys")
    version = client.get_model_metadata("recsys")["versions"][0]
    assert client.is_model_ready("recsys", model_version=version)
    assert not client.is_model_ready("recsys", model_version="no-such-version")
    metadata = client.get_model_metadata("recsys", model_version=version)
    assert metadata["name"] == "recsys" and metadata["platform"] == "onnx_onnxv1"
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]


@pytest.mark.parametrize("binary_in", [True, False], ids=["binary input", "JSON input"])
@pytest.mark.parametrize("binary_out", [True, False, None], ids=["binary outputs", "JSON outputs", "default outputs"])
def test_infer_in_every_encoding(client, expected, binary_in, binary_out):
    import tritonclient.http as triton

    outputs = None if binary_out is None else [
        triton.InferRequestedOutput(name, binary_data=binary_out) for name in ("skus", "scores", "is_fallback")]
    result = client.infer("recsys", [customer_input(binary_in)], outputs=outputs, request_id="req-7",
                          parameters={"k": 4})
    skus = result.as_numpy("skus")
    assert [[s.decode() if isinstance(s, bytes) else s for s in row] for row in skus] == expected.skus.tolist()
    np.testing.assert_allclose(result.as_numpy("scores"), expected.scores, rtol=1e-6)
    assert result.as_numpy("is_fallback").tolist() == [False, True]
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_name"] == "recsys"


def test_versioned_infer_and_an_unknown_version(client, server):
    from tritonclient.utils import InferenceServerException

    version = server.get("/v2/models/recsys").json()["versions"][0]
    result = client.infer("recsys", [customer_input(True)], model_version=version)
    assert result.get_response()["model_version"] == version
    with pytest.raises(InferenceServerException, match="version '7' not found; this server serves version"):
        client.infer("recsys", [customer_input(True)], model_version="7")


def test_one_requested_output_only(client, expected):
    import tritonclient.http as triton

    result = client.infer("recsys", [customer_input(False)], outputs=[triton.InferRequestedOutput("is_fallback")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["is_fallback"]
    assert result.as_numpy("is_fallback").tolist() == [False, True]


def test_nested_data_and_a_batch_by_one_shape(server, expected):
    body = {"inputs": [{"name": "customer_id", "shape": [2, 1], "datatype": "BYTES",
                        "data": [[C(1)], [UNSEEN]]}], "parameters": {"k": 4}}
    response = server.post("/v2/models/recsys/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == expected.skus.ravel().tolist()


def test_model_ready_body_names_the_model(server):
    version = server.get("/v2/models/recsys").json()["versions"][0]
    for path in ("/v2/models/recsys/ready", f"/v2/models/recsys/versions/{version}/ready"):
        assert server.get(path).json() == {"name": "recsys", "ready": True}
    assert server.get("/v2/").json()["name"] == server.get("/v2").json()["name"]
