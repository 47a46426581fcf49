"""The SDK's wire conversions, done directly where the values are plain data.

A registration converts every input value several times: the SDK serializes the program's inputs
(one coroutine and a dozen type checks per value), packs them into a protobuf Struct, the mock
monitor unpacks that Struct for the mocks, packs the mocks' answer into another Struct, and the
SDK unpacks that one to resolve the resource's outputs. For plain data (dicts with string keys,
lists, strings, numbers, booleans, None) each of these steps has a simple closed form; this
module computes those forms and leaves every other value (an Output, a resource, an asset, a
secret, an unknown, a tuple, an Enum) to the SDK, whole. A model's ~26 resources carry about
1,100 such values; with the closed forms the dev program with 200 model files ran in 8.0-8.6 s
where it took 10.7-10.9 s (interleaved, 2026-11-30; 12.6 against 13.3 s in a slower minute).

Each function states the SDK function whose result it reproduces; tests/test_engine.py checks
them value for value against the SDK (pulumi 3.272.0), and tests/test_preview_output.py checks
whole previews byte for byte with the SDK's own conversions.
"""
from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

_SCALARS = (str, bool, int, float, type(None))
# Strings and map keys the SDK gives a meaning on the wire: an unknown value, a secret, a
# resource reference, an asset or archive, an output value.
_UNKNOWN = rpc.UNKNOWN
_SIGNATURE = rpc._special_sig_key


class _NotPlain(Exception):
    pass


SDK_SERIALIZE_PROPERTY = rpc.serialize_property
SDK_CONTAINS_UNKNOWNS = rpc.contains_unknowns
SDK_TRANSLATE_OUTPUT_PROPERTIES = rpc.translate_output_properties
# Deeper than any resource's inputs; past it (or in a cycle) the SDK answers.
_MAX_DEPTH = 64


def install(shortcuts: bool = True) -> None:
    """Puts this module's shortcuts in place of the SDK's functions in `pulumi.runtime.rpc`
    (the SDK looks them up there at each call, its own recursion included), or the SDK's back."""
    rpc.serialize_property = serialize_property if shortcuts else SDK_SERIALIZE_PROPERTY
    rpc.contains_unknowns = contains_unknowns if shortcuts else SDK_CONTAINS_UNKNOWNS
    rpc.translate_output_properties = translate_output_properties if shortcuts else SDK_TRANSLATE_OUTPUT_PROPERTIES


async def serialize_property(value: Any, deps, property_key, resource_obj=None, input_transformer=None,
                             typ=None, keep_output_values=False, exclude_resource_refs_from_deps=False,
                             return_protobuf_value=False):
    """`rpc.serialize_property` (same signature and result): a str, bool, int, float or None
    (exact types) is returned as it is, whatever its declared type, as the SDK does after its
    checks; an untyped plain dict or list becomes the same value with each key passed through
    `input_transformer`, as the SDK's recursion makes it. Anything else (a map with the signature
    key included) goes to the SDK."""
    if not return_protobuf_value:
        kind = type(value)
        if kind in _SCALARS:
            return value
        if typ is None and (kind is dict or kind is list):
            try:
                return _rekeyed(value, input_transformer, 0)
            except _NotPlain:
                pass
    return await SDK_SERIALIZE_PROPERTY(value, deps, property_key, resource_obj, input_transformer, typ,
                                        keep_output_values, exclude_resource_refs_from_deps,
                                        return_protobuf_value)


def _rekeyed(value: Any, translate, depth: int) -> Any:
    """A plain value with every map key passed through `translate` (None: keys kept), at every
    depth: what the SDK's serializer and its output translation make of untyped plain data.
    Raises _NotPlain for anything else, a map with the signature key (a secret's, which the
    output translation unwraps) or past _MAX_DEPTH."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth >= _MAX_DEPTH:
        raise _NotPlain
    if kind is dict:
        if _SIGNATURE in value:
            raise _NotPlain
        if translate is None:
            return {k: _rekeyed(v, None, depth + 1) for k, v in value.items()}
        return {translate(k): _rekeyed(v, translate, depth + 1) for k, v in value.items()}
    if kind is list:
        return [_rekeyed(v, translate, depth + 1) for v in value]
    raise _NotPlain


def contains_unknowns(value: Any) -> bool:
    """`rpc.contains_unknowns(value)`: False for plain data (an unknown is an instance of the SDK's
    Unknown, never a str, number, bool, None, exact dict or list); anything else is the SDK's."""
    kind = type(value)
    if kind in _SCALARS:
        return False
    if (kind is dict or kind is list) and _is_plain(value):
        return False
    return SDK_CONTAINS_UNKNOWNS(value)


def translate_output_properties(output: Any, output_transformer, typ=None, transform_using_type_metadata=False,
                                path=None, return_none_on_dict_type_mismatch=False) -> Any:
    """`rpc.translate_output_properties` (same signature and result) for an untyped value of plain
    data: every map key passed through `output_transformer`, at every depth, values as they are.
    A type, a secret's map (any map with the signature key) or anything else: the SDK's."""
    if typ is None and output_transformer is not None:
        kind = type(output)
        if kind in _SCALARS:
            return output
        if kind is dict or kind is list:
            try:
                return _rekeyed(output, output_transformer, 0)
            except _NotPlain:
                pass
    return SDK_TRANSLATE_OUTPUT_PROPERTIES(output, output_transformer, typ, transform_using_type_metadata,
                                           path, return_none_on_dict_type_mismatch)


def struct_to_dict(struct) -> dict[str, Any] | None:
    """`rpc.deserialize_properties(struct)` for a Struct of plain data: a dict of Python values,
    numbers as floats, maps' null entries dropped, lists' nulls kept. None when the Struct holds
    anything the SDK reads specially (an unknown, a signature key) or an unset value."""
    try:
        return _from_struct(struct, 0)
    except _NotPlain:
        return None


def _from_struct(struct, depth: int) -> dict[str, Any]:
    fields = struct.fields
    if _SIGNATURE in fields or depth >= _MAX_DEPTH:
        raise _NotPlain
    out = {}
    for key, value in fields.items():
        python = _from_value(value, depth + 1)
        if python is not None:
            out[key] = python
    return out


def _from_value(value, depth: int) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        if text == _UNKNOWN:
            raise _NotPlain
        return text
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _from_struct(value.struct_value, depth)
    if kind == "list_value":
        if depth >= _MAX_DEPTH:
            raise _NotPlain
        return [_from_value(v, depth + 1) for v in value.list_value.values]
    if kind == "null_value":
        return None
    raise _NotPlain


def deserialized(state: dict[str, Any]) -> dict[str, Any] | None:
    """What `rpc.deserialize_properties` returns for the Struct `rpc.serialize_properties(state)`
    makes, when `state` is plain data: ints as floats (the wire has only doubles), None dropped
    from maps and kept in lists. None when `state` holds anything else, an unknown's string or
    a signature key.

    Maps keep `state`'s key order, where a Struct read back comes in its hash map's order: the
    engine's own order is unspecified (Go maps), so no program may depend on either; the previews
    are byte-identical both ways (tests/test_preview_output.py)."""
    try:
        return _wire(state, 0) if type(state) is dict else None
    except _NotPlain:
        return None


def _wire(value: Any, depth: int) -> Any:
    kind = type(value)
    if value is None:
        return None
    if depth >= _MAX_DEPTH and (kind is dict or kind is list):
        raise _NotPlain
    if kind is str:
        if value == _UNKNOWN:
            raise _NotPlain
        return value
    if kind is int:
        return float(value)
    if kind is float or kind is bool:
        return value
    if kind is dict:
        if _SIGNATURE in value:
            raise _NotPlain
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            if v is not None:
                out[k] = _wire(v, depth + 1)
        return out
    if kind is list:
        return [_wire(v, depth + 1) for v in value]
    raise _NotPlain


def plain_struct(state: dict[str, Any]) -> struct_pb2.Struct | None:
    """`rpc.serialize_properties(state, {})` for plain data (a secret's signature map included:
    it is plain data to the serializer), else None. The SDK drops a top-level None (an absent
    property) and keeps nested ones (null values)."""
    if type(state) is not dict or not _is_plain(state):
        return None
    struct = struct_pb2.Struct()
    struct.update({k: v for k, v in state.items() if v is not None})
    return struct


def _is_plain(value: Any, depth: int = 0) -> bool:
    # Exact types: a subclass (an Enum over str, a secret wrapper) may serialize differently.
    # Past _MAX_DEPTH (or in a cycle) not plain: the SDK's functions answer.
    kind = type(value)
    if kind is dict:
        return depth < _MAX_DEPTH and all(type(k) is str and _is_plain(v, depth + 1) for k, v in value.items())
    if kind is list:
        return depth < _MAX_DEPTH and all(_is_plain(v, depth + 1) for v in value)
    return kind in _SCALARS
