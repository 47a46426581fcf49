"""Not ready until the model is loaded and warmed up; a missing or corrupt model never serves."""
from __future__ import annotations

import json
import shutil

from tools.build_recsys_model import customer_id as C

from .metrics_text import value
from .processes import wait_until

READINESS_PATHS = ("/v2/health/ready", "/v2/models/recsys/ready")


def workers_that_failed_to_load(server) -> set[int]:
    """pids of the worker processes that have logged a failed load (JSON logs, one per line)."""
    pids = set()
    for line in server.logs().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "model failed to load; staying not-ready":
            pids.add(entry["pid"])
    return pids


def assert_not_ready(server, reason: str) -> None:
    # Every worker process loads (and fails) on its own, and each request reaches one of them:
    # wait until every worker has logged its failure, so no sibling still answers "model is
    # loading". (Repeated probes all giving the reason were not enough: on a quiet machine eight
    # of them reached one worker while its sibling was still importing.)
    workers = int(server.env["WORKERS"])
    wait_until(lambda: len(workers_that_failed_to_load(server)) >= workers,
               f"all {workers} workers to fail to load")
    for path in READINESS_PATHS:
        response = server.get(path)
        assert response.status_code == 400, response.text
        assert response.json()["ready"] is False
        assert reason in response.json()["reason"]
    response = server.infer([C(1)])
    assert response.status_code == 503
    assert "model 'recsys' is not ready" in response.json()["error"]
    assert server.get("/v2/health/live").status_code == 200


def test_ready_only_after_the_model_arrives_and_is_warmed_up(tmp_path, model_path, start_server):
    # The model is not there yet: as when S3 or the registry is slow at pod start.
    target = tmp_path / "arriving" / "recsys.onnx"
    server = start_server({"MODEL_URI": str(target)}, wait_ready=False)
    wait_until(lambda: "does not exist" in server.get("/v2/health/ready").text, "the first load attempt")
    assert_not_ready(server, f"model path {target} does not exist")
    assert value(server.get("/metrics").text, "model_server_model_info") == 0

    target.parent.mkdir()
    shutil.copy(model_path, target)
    wait_until(server.is_ready, "readiness once the model arrived")
    assert server.get("/v2/models/recsys/ready").json() == {"name": "recsys", "ready": True}
    assert server.infer([C(1)]).status_code == 200
    assert "model loaded and warmed up" in server.logs()


def test_corrupt_model_leaves_the_pod_not_ready(tmp_path, start_server):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not an onnx protobuf" * 10)
    server = start_server({"MODEL_URI": str(corrupt)}, wait_ready=False)
    wait_until(lambda: "ONNX Runtime cannot load" in server.get("/v2/health/ready").text,
               "the corrupt model to be rejected")
    assert_not_ready(server, "ONNX Runtime cannot load")
    assert "model failed to load; staying not-ready" in server.logs()


def test_model_with_another_signature_is_rejected(tmp_path, start_server):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "not_a_recommender",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    server = start_server({"MODEL_URI": str(path)}, wait_ready=False)
    wait_until(lambda: "model signature" in server.get("/v2/health/ready").text, "the signature check")
    assert_not_ready(server, "expected inputs")


def test_directory_with_one_model_and_metadata(tmp_path, model_path, start_server):
    directory = tmp_path / "model-dir"
    directory.mkdir()
    shutil.copy(model_path, directory / "model.onnx")
    server = start_server({"MODEL_URI": str(directory)})
    metadata = server.get("/v2/models/recsys").json()
    assert metadata["name"] == "recsys"
    assert metadata["versions"][0].startswith("sha256-")
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [("customer_id", "BYTES")]
    assert {(o["name"], o["datatype"]) for o in metadata["outputs"]} == {
        ("skus", "BYTES"), ("scores", "FP32"), ("is_fallback", "BOOL")}
    assert metadata["properties"]["num_customers"] == "500"
