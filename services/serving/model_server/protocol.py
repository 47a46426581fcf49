"""Open Inference Protocol V2 (REST) for the recommender: request validation and responses.

Request:  {"id"?, "parameters"?: {"k": 10}, "inputs": [{"name": "user_id", "shape": [n],
           "datatype": "INT64", "data": [user ids]}], "outputs"?: [{"name": "item_ids"}, ...]}
Response: outputs item_ids INT64 [n, k] and scores FP32 [n, k], data flattened row-major.
Every rejection says which field was wrong and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

from .errors import bad_request
from .recommender import Recommendation

INPUT_NAME = "user_id"
INT_DATATYPES = {"INT64", "INT32", "UINT32", "UINT64"}
OUTPUT_DATATYPES = {"item_ids": "INT64", "scores": "FP32"}


@dataclass(frozen=True)
class Limits:
    default_k: int
    max_k: int
    max_batch_size: int


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    user_ids: np.ndarray
    k: int
    outputs: tuple[str, ...]


def parse_json(body: bytes):
    if not body:
        raise bad_request("request body is empty; expected a JSON inference request")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None


def parse_k(value, limits: Limits, num_items: int) -> int:
    upper = min(limits.max_k, num_items)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise bad_request(f"k must be an integer from 1 to {upper}, got {value!r}")
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _user_ids(tensor: dict, limits: Limits) -> np.ndarray:
    datatype = tensor.get("datatype")
    if datatype not in INT_DATATYPES:
        raise bad_request(f"input '{INPUT_NAME}' has datatype {datatype!r}; expected INT64 (or INT32)")
    shape = tensor.get("shape")
    if (not isinstance(shape, list) or not all(_is_int(d) for d in shape)
            or len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1)):
        raise bad_request(f"input '{INPUT_NAME}' has shape {shape!r}; expected [batch] or [batch, 1]")
    batch = shape[0]
    if batch < 1:
        raise bad_request(f"input '{INPUT_NAME}' has an empty batch; send at least one user id")
    if batch > limits.max_batch_size:
        raise bad_request(
            f"batch of {batch} user ids exceeds the limit of {limits.max_batch_size} per request"
        )
    data = tensor.get("data")
    if not isinstance(data, list) or len(data) != batch:
        got = len(data) if isinstance(data, list) else type(data).__name__
        raise bad_request(
            f"input '{INPUT_NAME}' shape {shape} needs a flat 'data' list of {batch} ids, got {got}"
        )
    if not all(_is_int(u) for u in data):
        raise bad_request(f"input '{INPUT_NAME}' data must be integers, got {data[:5]!r}")
    try:
        return np.array(data, dtype=np.int64)
    except OverflowError:
        raise bad_request(f"input '{INPUT_NAME}' has ids outside the INT64 range") from None


def _requested_outputs(payload: dict) -> tuple[str, ...]:
    requested = payload.get("outputs")
    if requested is None:
        return tuple(OUTPUT_DATATYPES)
    if not isinstance(requested, list) or not all(isinstance(o, dict) for o in requested):
        raise bad_request("'outputs' must be a list of {\"name\": ...} objects")
    names = tuple(o.get("name") for o in requested)
    unknown = [n for n in names if n not in OUTPUT_DATATYPES]
    if unknown:
        raise bad_request(f"unknown output(s) {unknown}; this model has {list(OUTPUT_DATATYPES)}")
    return names


def parse_infer_request(payload, limits: Limits, num_items: int) -> InferRequest:
    if not isinstance(payload, dict):
        raise bad_request("request body must be a JSON object with an 'inputs' list")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, dict) for t in inputs):
        raise bad_request("'inputs' must be a non-empty list of tensors")
    names = [t.get("name") for t in inputs]
    if names != [INPUT_NAME]:
        raise bad_request(f"inputs are {names}; this model takes exactly one input '{INPUT_NAME}'")
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise bad_request("'parameters' must be a JSON object")
    k = parse_k(parameters.get("k", limits.default_k), limits, num_items)
    request_id = payload.get("id")
    return InferRequest(
        id=request_id if isinstance(request_id, str) else None,
        user_ids=_user_ids(inputs[0], limits),
        k=k,
        outputs=_requested_outputs(payload),
    )


def infer_response(model: str, version: str, request: InferRequest, result: Recommendation) -> bytes:
    arrays = {"item_ids": result.item_ids, "scores": result.scores}
    body = {
        "model_name": model,
        "model_version": version,
        "outputs": [
            {
                "name": name,
                "datatype": OUTPUT_DATATYPES[name],
                "shape": list(arrays[name].shape),
                "data": np.ascontiguousarray(arrays[name]).ravel(),
            }
            for name in request.outputs
        ],
    }
    if request.id is not None:
        body["id"] = request.id
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def model_metadata(model: str, version: str) -> dict:
    return {
        "name": model,
        "versions": [version],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": INPUT_NAME, "datatype": "INT64", "shape": [-1]}],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": [-1, -1]}
            for name, datatype in OUTPUT_DATATYPES.items()
        ],
    }
