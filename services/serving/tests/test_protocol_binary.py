"""The Open Inference Protocol's (V2) model metadata and its binary tensor data extension, read the
way the spec lays them out: a BYTES element is a 4-byte little-endian unsigned length, then the
bytes; FP32 is 4 bytes little-endian per element; BOOL one byte per element; a binary output's
`parameters.binary_data_size` is its byte count, and the tails follow the JSON header in output
order. https://github.com/kserve/open-inference-protocol (binary_tensor_data)."""
from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from model_server import protocol
from model_server.errors import ClientError
from model_server.protocol import InferRequest, Limits
from model_server.recommender import Recommendation

LIMITS = Limits(default_k=2, max_k=50, max_batch_size=8)


def bytes_element(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(4, "little") + raw


def test_model_metadata_is_the_model_files_signature():
    # The model file's signature (tools/build_recsys_model.py): customer ids in, a batch of top-K
    # SKUs and scores and one fallback flag per customer out; -1 is a variable dimension.
    assert protocol.model_metadata("recsys", "7", {"source": "local"}) == {
        "name": "recsys", "versions": ["7"], "platform": "onnx_onnxv1",
        "inputs": [{"name": "customer_id", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "skus", "datatype": "BYTES", "shape": [-1, -1]},
                    {"name": "scores", "datatype": "FP32", "shape": [-1, -1]},
                    {"name": "is_fallback", "datatype": "BOOL", "shape": [-1]}],
        "properties": {"source": "local"},
    }


def recommendation() -> Recommendation:
    return Recommendation(skus=np.array([["SKU-1", "SKU-22"], ["SKU-333", "SKU-4444"]], dtype=object),
                          scores=np.array([[0.5, -1.25], [3.0, 2.0]], dtype=np.float32),
                          is_fallback=np.array([False, True]))


def request(binary: frozenset[str], outputs=("skus", "scores", "is_fallback"), id_=None) -> InferRequest:
    return InferRequest(id=id_, customer_ids=np.array(["C1", "C2"], dtype=object), k=2, outputs=outputs,
                        binary_outputs=binary)


def test_binary_outputs_follow_the_json_header_in_the_extensions_layout():
    body, header_length = protocol.infer_response("recsys", "7", request(frozenset({"skus", "scores", "is_fallback"}),
                                                                         id_="r1"),
                                                  recommendation())
    head = orjson.loads(body[:header_length])
    assert (head["id"], head["model_name"], head["model_version"]) == ("r1", "recsys", "7")
    sizes = [o["parameters"]["binary_data_size"] for o in head["outputs"]]
    assert [(o["name"], o["datatype"], o["shape"]) for o in head["outputs"]] == [
        ("skus", "BYTES", [2, 2]), ("scores", "FP32", [2, 2]), ("is_fallback", "BOOL", [2])]
    assert all("data" not in o for o in head["outputs"]) and len(head["outputs"]) == 3
    tail = body[header_length:]
    skus_raw = b"".join(bytes_element(s) for s in ("SKU-1", "SKU-22", "SKU-333", "SKU-4444"))
    scores_raw = struct.pack("<4f", 0.5, -1.25, 3.0, 2.0)
    assert sizes == [len(skus_raw), len(scores_raw), 2]
    assert tail == skus_raw + scores_raw + b"\x00\x01"


def test_json_and_binary_outputs_mix():
    body, header_length = protocol.infer_response("recsys", "7", request(frozenset({"scores"})), recommendation())
    head = orjson.loads(body[:header_length])
    assert "id" not in head
    skus, scores, fallback = head["outputs"]
    assert skus["data"] == ["SKU-1", "SKU-22", "SKU-333", "SKU-4444"] and fallback["data"] == [False, True]
    assert scores["parameters"] == {"binary_data_size": 16} and body[header_length:] == struct.pack("<4f", 0.5, -1.25,
                                                                                                    3.0, 2.0)


def test_without_binary_outputs_there_is_no_header_length():
    body, header_length = protocol.infer_response("recsys", "7", request(frozenset(), outputs=("is_fallback",)),
                                                  recommendation())
    assert header_length is None
    assert orjson.loads(body)["outputs"] == [{"name": "is_fallback", "datatype": "BOOL", "shape": [2],
                                              "data": [False, True]}]


def binary_infer(ids_raw: bytes, batch: int) -> InferRequest:
    head = orjson.dumps({"inputs": [{"name": "customer_id", "shape": [batch], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(ids_raw)}}]})
    return protocol.parse_infer_request(head + ids_raw, str(len(head)), LIMITS, num_items=300)


def test_binary_customer_ids_of_different_lengths_are_read_in_order():
    ids = ["C1", "C000000022", "C" * 64, "Cé"]  # the last one two bytes longer in UTF-8 than in characters
    parsed = binary_infer(b"".join(bytes_element(i) for i in ids), len(ids))
    assert parsed.customer_ids.tolist() == ids


def test_binary_length_prefix_cut_at_every_byte_is_refused():
    whole = bytes_element("C1")
    for cut in range(1, 4):  # 1-3 bytes of a second element's 4-byte length prefix
        with pytest.raises(ClientError, match="binary data ends inside an element's length prefix"):
            binary_infer(whole + b"\x02\x00\x00\x00"[:cut], 2)


def test_an_element_longer_than_the_data_left_is_refused():
    with pytest.raises(ClientError, match="binary data is shorter than its element lengths say"):
        binary_infer(bytes_element("C1")[:-1], 1)
    # A length that, read as signed, would be negative: the spec's lengths are unsigned.
    with pytest.raises(ClientError, match="binary data is shorter than its element lengths say"):
        binary_infer(b"\xff\xff\xff\xffC1", 1)


def test_an_id_that_is_not_utf8_is_refused():
    with pytest.raises(ClientError, match="^input 'customer_id' binary data holds an id that is not UTF-8$"):
        binary_infer(b"\x02\x00\x00\x00\xc3\x28", 1)


def test_a_last_element_of_length_zero_is_whole_and_refused_as_an_empty_id():
    # Exactly 4 bytes left: a complete length prefix (0), not a cut one.
    with pytest.raises(ClientError, match="customer ids are strings of 1 to 64 characters"):
        binary_infer(bytes_element("C1") + b"\x00\x00\x00\x00", 2)
