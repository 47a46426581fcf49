"""Open Inference Protocol V2 (REST) for the recommender: request validation and responses.

Request:  {"id"?: str, "parameters"?: {"k": 10}, "inputs": [{"name": "customer_id", "shape": [n],
           "datatype": "BYTES", "data": ["C000001234", ...]}], "outputs"?: [{"name": "skus"}, ...]}
Response: skus BYTES [n, k], scores FP32 [n, k], is_fallback BOOL [n], data flattened row-major.
The binary tensor extension (Triton's; tritonclient's default) is read and written: a request with
`Inference-Header-Content-Length` carries its JSON header first and the raw tensors after it.
The JSON is checked against pydantic models in strict mode, so a value of the wrong type anywhere
is a 400 naming the field (`outputs[0].name`), never a 500.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import bad_request
from .recommender import Recommendation

INPUT_NAME = "customer_id"
OUTPUT_DATATYPES = {"skus": "BYTES", "scores": "FP32", "is_fallback": "BOOL"}
# The spec's platform name for ONNX models (Open Inference Protocol, "Platforms").
PLATFORM = "onnx_onnxv1"
# Longer than any shop id (^C[0-9]{9}$); bounds what a request can put into a cache key.
MAX_ID_LENGTH = 64
BINARY_HEADER = "inference-header-content-length"
BINARY_EXTENSION = "binary_tensor_data"


class _Strict(BaseModel):
    # strict: a number is not a string, a bool is not an integer; unknown fields are ignored, as
    # the protocol leaves room for extensions.
    model_config = ConfigDict(strict=True, extra="ignore")


class RequestInput(_Strict):
    name: str
    shape: list[Annotated[int, Field(ge=0)]]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: Any = None  # nested lists; checked against shape and datatype below


class RequestOutput(_Strict):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequestBody(_Strict):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


@dataclass(frozen=True)
class Limits:
    default_k: int
    max_k: int
    max_batch_size: int


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    customer_ids: np.ndarray  # object (str) [batch]
    k: int
    outputs: tuple[str, ...]
    binary_outputs: frozenset[str]


def _field(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _validation_error(exc: ValidationError):
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return bad_request(f"request body is not valid JSON: {first['msg']}")
    field = _field(first["loc"])
    if not field:
        return bad_request(f"request body must be a JSON object with an 'inputs' list, "
                           f"got {type(first['input']).__name__}")
    if first["type"] == "missing":
        return bad_request(f"field '{field}' is required")
    shown = repr(first["input"])
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return bad_request(f"field '{field}': {first['msg']}, got {shown}")


def parse_k(value, limits: Limits, num_items: int) -> int:
    upper = min(limits.max_k, num_items)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise bad_request(f"k must be an integer from 1 to {upper}, got {value!r}")
    return value


def _flatten(data: list) -> list:
    # The protocol allows the tensor's data flat (row-major) or nested like the shape.
    if all(not isinstance(item, list) for item in data):
        return data
    return [leaf for item in data for leaf in _flatten(item)]


def _batch(tensor: RequestInput, limits: Limits) -> int:
    shape = tensor.shape
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise bad_request(f"field 'inputs[0].shape' is {shape}; expected [batch] or [batch, 1]")
    batch = shape[0]
    if batch < 1:
        raise bad_request("input 'customer_id' has an empty batch; send at least one customer id")
    if batch > limits.max_batch_size:
        raise bad_request(
            f"batch of {batch} customer ids exceeds the limit of {limits.max_batch_size} per request"
        )
    return batch


def _binary_strings(raw: bytes, batch: int) -> list:
    """The extension's BYTES layout: each element a 4-byte little-endian length, then the bytes."""
    values, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise bad_request("input 'customer_id' binary data ends inside an element's length prefix")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise bad_request("input 'customer_id' binary data is shorter than its element lengths say")
        try:
            values.append(raw[offset:offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise bad_request("input 'customer_id' binary data holds an id that is not UTF-8") from None
        offset += length
    if len(values) != batch:
        raise bad_request(f"input 'customer_id' binary data holds {len(values)} ids; shape says {batch}")
    return values


def _customer_ids(tensor: RequestInput, binary: bytes, limits: Limits) -> np.ndarray:
    if tensor.datatype != "BYTES":
        raise bad_request(f"field 'inputs[0].datatype' is {tensor.datatype!r}; "
                          "customer ids are strings: expected BYTES")
    batch = _batch(tensor, limits)
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size != len(binary):
            raise bad_request(f"field 'inputs[0].parameters.binary_data_size' is {size!r}; the body "
                              f"carries {len(binary)} bytes after the JSON header")
        values = _binary_strings(binary, batch)
    elif binary:
        raise bad_request("the body has binary data after the JSON header but no input declares "
                          "'parameters.binary_data_size'")
    else:
        if tensor.data is None:
            raise bad_request("field 'inputs[0].data' is required (or the binary tensor extension)")
        if not isinstance(tensor.data, list):
            raise bad_request(f"field 'inputs[0].data' must be an array, got {tensor.data!r:.80}")
        values = _flatten(tensor.data)
        if len(values) != batch:
            raise bad_request(f"input 'customer_id' shape {tensor.shape} needs {batch} ids in "
                              f"'data', got {len(values)}")
    for value in values:
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH:
            shown = repr(value)[:80]
            raise bad_request(f"field 'inputs[0].data' holds {shown}; customer ids are strings of "
                              f"1 to {MAX_ID_LENGTH} characters")
    return np.array(values, dtype=object)


def _flag(parameters: dict | None, name: str, where: str) -> bool | None:
    value = (parameters or {}).get(name)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"field '{where}.{name}' must be true or false, got {value!r}")
    return value


def _requested_outputs(body: InferenceRequestBody) -> tuple[tuple[str, ...], frozenset[str]]:
    all_binary = bool(_flag(body.parameters, "binary_data_output", "parameters"))
    if body.outputs is None:
        names = tuple(OUTPUT_DATATYPES)
        return names, frozenset(names if all_binary else ())
    binary = set()
    for index, output in enumerate(body.outputs):
        if output.name not in OUTPUT_DATATYPES:
            raise bad_request(f"field 'outputs[{index}].name' is {output.name!r}; this model has "
                              f"outputs {list(OUTPUT_DATATYPES)}")
        flag = _flag(output.parameters, "binary_data", f"outputs[{index}].parameters")
        if flag or (flag is None and all_binary):
            binary.add(output.name)
    return tuple(o.name for o in body.outputs), frozenset(binary)


def split_binary(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON part and the binary part of a body (the binary tensor extension's layout)."""
    if header_length is None:
        return body, b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise bad_request(f"header 'Inference-Header-Content-Length' is {header_length!r}; expected "
                          f"the JSON header's length in bytes, at most the body's {len(body)}")
    cut = int(header_length)
    return body[:cut], body[cut:]


def parse_infer_request(body: bytes, header_length: str | None, limits: Limits,
                        num_items: int) -> InferRequest:
    json_part, binary = split_binary(body, header_length)
    if not json_part:
        raise bad_request("request body is empty; expected a JSON inference request")
    try:
        parsed = InferenceRequestBody.model_validate_json(json_part)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    names = [t.name for t in parsed.inputs]
    if names != [INPUT_NAME]:
        raise bad_request(f"field 'inputs' names {names}; this model takes exactly one input "
                          f"'{INPUT_NAME}'")
    k = parse_k((parsed.parameters or {}).get("k", limits.default_k), limits, num_items)
    outputs, binary_outputs = _requested_outputs(parsed)
    return InferRequest(id=parsed.id, customer_ids=_customer_ids(parsed.inputs[0], binary, limits),
                        k=k, outputs=outputs, binary_outputs=binary_outputs)


def _arrays(result: Recommendation) -> dict[str, np.ndarray]:
    return {"skus": result.skus, "scores": result.scores, "is_fallback": result.is_fallback}


def _binary(name: str, array: np.ndarray) -> bytes:
    if name == "skus":
        encoded = [s.encode() for s in array.ravel()]
        return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
    if name == "scores":
        return np.ascontiguousarray(array, dtype="<f4").tobytes()
    return np.ascontiguousarray(array, dtype=np.bool_).tobytes()


def infer_response(model: str, version: str, request: InferRequest,
                   result: Recommendation) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary outputs follow it (else None)."""
    arrays = _arrays(result)
    outputs, tail = [], []
    for name in request.outputs:
        array = arrays[name]
        entry = {"name": name, "datatype": OUTPUT_DATATYPES[name], "shape": list(array.shape)}
        if name in request.binary_outputs:
            raw = _binary(name, array)
            entry["parameters"] = {"binary_data_size": len(raw)}
            tail.append(raw)
        else:
            entry["data"] = array.ravel().tolist()
        outputs.append(entry)
    body = {"model_name": model, "model_version": version, "outputs": outputs}
    if request.id is not None:
        body["id"] = request.id
    header = orjson.dumps(body)
    if not tail:
        return header, None
    return header + b"".join(tail), len(header)


def model_metadata(model: str, version: str, properties: dict[str, str]) -> dict:
    return {
        "name": model,
        "versions": [version],
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "skus", "datatype": "BYTES", "shape": [-1, -1]},
            {"name": "scores", "datatype": "FP32", "shape": [-1, -1]},
            {"name": "is_fallback", "datatype": "BOOL", "shape": [-1]},
        ],
        "properties": properties,
    }
