"""Parsing an Open Inference Protocol (V2) infer request in this process: which outputs come back
binary (the extension's request-level `binary_data_output` and per-output `binary_data`), customer
ids of 1 to 64 characters (the README's limit), nested data, and the exact one-line message for
each bad request (field, value, what is allowed)."""
from __future__ import annotations

import orjson
import pytest

from model_server import protocol
from model_server.errors import ClientError
from model_server.protocol import Limits

LIMITS = Limits(default_k=2, max_k=50, max_batch_size=8)


def parse(body: dict, binary: bytes = b""):
    head = orjson.dumps(body)
    return protocol.parse_infer_request(head + binary, str(len(head)) if binary else None, LIMITS, num_items=300)


def ids_input(data=None, shape=None, **extra) -> dict:
    data = ["C1"] if data is None else data
    return {"name": "customer_id", "datatype": "BYTES", "shape": shape or [len(data)], "data": data, **extra}


def refused(body: dict, binary: bytes = b"") -> str:
    with pytest.raises(ClientError) as error:
        parse(body, binary)
    assert error.value.status == 400
    return str(error.value)


def test_request_level_binary_data_output_makes_every_output_binary():
    parsed = parse({"inputs": [ids_input()], "parameters": {"binary_data_output": True}})
    assert parsed.outputs == ("skus", "scores", "is_fallback")
    assert parsed.binary_outputs == frozenset({"skus", "scores", "is_fallback"})
    assert parse({"inputs": [ids_input()]}).binary_outputs == frozenset()
    assert parse({"inputs": [ids_input()], "parameters": {"binary_data_output": False}}).binary_outputs == frozenset()


def test_an_outputs_own_flag_wins_over_the_request_level_one():
    parsed = parse({"inputs": [ids_input()], "parameters": {"binary_data_output": True},
                    "outputs": [{"name": "skus", "parameters": {"binary_data": False}}, {"name": "scores"}]})
    assert (parsed.outputs, parsed.binary_outputs) == (("skus", "scores"), frozenset({"scores"}))


def test_a_flag_that_is_not_a_boolean_is_named():
    assert refused({"inputs": [ids_input()], "parameters": {"binary_data_output": "yes"}}) == (
        "field 'parameters.binary_data_output' must be true or false, got 'yes'")


def test_customer_ids_of_one_to_64_characters():
    parsed = parse({"inputs": [ids_input(["C", "C" * 64])]})
    assert parsed.customer_ids.tolist() == ["C", "C" * 64] and parsed.customer_ids.dtype == object
    for bad in ("", "C" * 65):
        assert refused({"inputs": [ids_input([bad])]}) == (
            f"field 'inputs[0].data' holds {bad!r}; customer ids are strings of 1 to 64 characters")
    long = "C" * 200  # shown cut to 80 characters of its repr
    assert refused({"inputs": [ids_input([long])]}) == (
        f"field 'inputs[0].data' holds {repr(long)[:80]}; customer ids are strings of 1 to 64 characters")


def test_nested_data_is_read_row_major():
    parsed = parse({"inputs": [ids_input([["C1"], ["C2"], ["C3"]], shape=[3, 1])]})
    assert parsed.customer_ids.tolist() == ["C1", "C2", "C3"]


def test_exact_messages_for_the_request_shape():
    assert refused({"inputs": [ids_input([], shape=[0])]}) == (
        "input 'customer_id' has an empty batch; send at least one customer id")
    no_data = {"name": "customer_id", "datatype": "BYTES", "shape": [1]}
    assert refused({"inputs": [no_data]}) == "field 'inputs[0].data' is required (or the binary tensor extension)"
    assert refused({"inputs": [no_data]}, b"\x01\x00\x00\x00A") == (
        "the body has binary data after the JSON header but no input declares 'parameters.binary_data_size'")


@pytest.mark.parametrize("size", [True, 1.0, "1"])
def test_binary_data_size_must_be_an_integer(size):
    tensor = {"name": "customer_id", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": size}}
    assert refused({"inputs": [tensor]}, b"\x00") == (
        f"field 'inputs[0].parameters.binary_data_size' is {size!r}; the body carries 1 bytes after the JSON header")


@pytest.mark.parametrize("tail,message", [
    (b"\x01\x00", "input 'customer_id' binary data ends inside an element's length prefix"),
    (b"\x09\x00\x00\x00AB", "input 'customer_id' binary data is shorter than its element lengths say"),
    (b"\x01\x00\x00\x00\xff", "input 'customer_id' binary data holds an id that is not UTF-8"),
])
def test_exact_messages_for_broken_binary_data(tail, message):
    tensor = {"name": "customer_id", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": len(tail)}}
    assert refused({"inputs": [tensor]}, tail) == message


def test_a_wrong_type_shows_the_value_up_to_80_characters():
    def message(value) -> str:
        return refused({"id": value, "inputs": [ids_input()]})

    exactly = [1] * 26  # repr: 2 + 26 * 3 - 2 = 78 characters
    assert len(repr(exactly)) == 78
    assert message(exactly) == f"field 'id': Input should be a valid string, got {exactly!r}"
    at_edge = exactly + [12]  # 82: cut to 77 characters and "..."
    assert len(repr(at_edge)) == 82
    assert message(at_edge) == f"field 'id': Input should be a valid string, got {repr(at_edge)[:77]}..."
    eighty = [1] * 25 + [123]  # 80 characters: shown whole
    assert len(repr(eighty)) == 80
    assert message(eighty) == f"field 'id': Input should be a valid string, got {eighty!r}"
    eighty_one = [1] * 25 + [1234]
    assert len(repr(eighty_one)) == 81
    assert message(eighty_one) == f"field 'id': Input should be a valid string, got {repr(eighty_one)[:77]}..."


def test_a_body_that_is_not_an_object_names_its_type():
    head = b"[1, 2]"
    with pytest.raises(ClientError, match=r"^request body must be a JSON object with an 'inputs' list, got list$"):
        protocol.parse_infer_request(head, None, LIMITS, num_items=300)
