"""A resource's inputs handed from the SDK's serializer to the recording monitor as Python values.

The SDK serializes a resource's inputs into a protobuf Struct (`rpc.serialize_properties`: one
Python call per value into the Struct's setters), the recording monitor reads that Struct back
into Python values for the mocks and the record (`plain_rpc.struct_to_dict`), and the register
path reads it once more for any input the mocks did not answer (`rpc.resolve_outputs`). For a
model file's 26 resources the two conversions were about an eighth of the program run (dev with
201 model files, sampled with py-spy 2026-12-01: `Struct.__setitem__` 6.7%, `struct_to_dict`
6.7%).

Here, when every serialized input of a resource is plain data, `serialize_properties` keeps the
values the Struct would have read back as (`plain_rpc.deserialized`) and returns a Struct of
one field, a ticket naming them. The three readers of that Struct redeem the ticket: the
recording monitor (tools/recorder.py), `rpc.resolve_outputs` and `rpc.deserialize_properties`
(the mock monitor's read path). Anything else (a secret, an unknown, a resource reference, a
call's output values) is the SDK's Struct, built as the SDK builds it. Tickets are issued only
for a resource's own inputs (the serializer is given the resource), so a stack output or an
invoke's arguments never carry one. tests/test_plain_inputs.py compares each path with the
SDK's; tests/test_preview_output.py whole previews byte for byte.
"""
from __future__ import annotations

import secrets
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

from . import plain_rpc

SDK_SERIALIZE_PROPERTIES = rpc.serialize_properties
SDK_RESOLVE_OUTPUTS = rpc.resolve_outputs
SDK_DESERIALIZE_PROPERTIES = rpc.deserialize_properties

# A Struct key no program's input can be: unique to this process, and the only key of a ticket.
TICKET_KEY = "__mlops_plain_inputs_" + secrets.token_hex(8)

# The inputs each ticket names, by the ticket's number; emptied at the start of each program run.
_issued: list[dict[str, Any]] = []


def install(shortcuts: bool = True) -> None:
    """Puts this module's functions in place of the SDK's in `pulumi.runtime.rpc` (the SDK's
    register and read paths look them up there at each call), or the SDK's back."""
    rpc.serialize_properties = serialize_properties if shortcuts else SDK_SERIALIZE_PROPERTIES
    rpc.resolve_outputs = resolve_outputs if shortcuts else SDK_RESOLVE_OUTPUTS
    rpc.deserialize_properties = deserialize_properties if shortcuts else SDK_DESERIALIZE_PROPERTIES


def forget_issued() -> None:
    """Drops every ticket's inputs: a program run starts with none (tools/engine.py)."""
    _issued.clear()


def redeem(struct: Any) -> dict[str, Any] | None:
    """The inputs a ticket names (the dict itself: callers copy before changing it), or None
    when `struct` is not a ticket."""
    if type(struct) is not struct_pb2.Struct:
        return None
    fields = struct.fields
    if len(fields) != 1 or TICKET_KEY not in fields:
        return None
    return _issued[int(fields[TICKET_KEY].number_value)]


async def serialize_properties(inputs, property_deps, resource_obj=None, input_transformer=None, typ=None,
                               keep_output_values=False, exclude_resource_refs_from_deps=False) -> struct_pb2.Struct:
    """`rpc.serialize_properties` (pulumi 3.272.0; same signature, `property_deps` and errors). Returns
    the SDK's Struct, or a ticket when `resource_obj` is given, output values are not kept (a
    multi-language component's or a call's) and every serialized input is plain data."""
    if resource_obj is None or keep_output_values:
        return await SDK_SERIALIZE_PROPERTIES(inputs, property_deps, resource_obj, input_transformer, typ,
                                              keep_output_values, exclude_resource_refs_from_deps)
    # The SDK's key translation: the input type's names where the resource gives its type.
    get_type = None
    translate = input_transformer
    if typ is not None:
        py_name_to_pulumi_name = rpc._types.input_type_py_to_pulumi_names(typ)
        types = rpc._types.input_type_types(typ)
        translate = lambda k: py_name_to_pulumi_name.get(k) or k  # noqa: E731 - the SDK's own form
        get_type = lambda k: types.get(translate(k))  # noqa: E731
    serialized: dict[str, Any] = {}
    # Keys, then each value by key, as the SDK reads them (a dict subclass may redefine items()).
    for k in inputs:
        v = inputs[k]
        deps: list = []
        try:
            result = await rpc.serialize_property(v, deps, k, resource_obj, input_transformer,
                                                  None if get_type is None else get_type(k), keep_output_values,
                                                  exclude_resource_refs_from_deps)
        except ValueError as e:
            raise ValueError(f"While processing input: {repr(k)}, type {type(k)}, value {repr(v)}\n"
                             + f"ValueError has risen: {e}") from e
        except AssertionError as e:
            raise AssertionError(f"While processing input: {repr(k)}, type {type(k)}, value {repr(v)}\n"
                                 + f"AssertionError has risen: {e}") from e
        # An input that serializes to None is absent, as in the SDK.
        if result is not None:
            name = k if translate is None else translate(k)
            serialized[name] = result
            property_deps[name] = deps
    wire = plain_rpc.deserialized(serialized)
    if wire is None:
        struct = struct_pb2.Struct()
        for name, result in serialized.items():
            struct[name] = result
        return struct
    ticket = struct_pb2.Struct()
    ticket[TICKET_KEY] = len(_issued)
    _issued.append(wire)
    return ticket


def resolve_outputs(res, serialized_props, outputs, deps, resolvers, custom, transform_using_type_metadata=False,
                    keep_unknowns=False, resolve_missing_as_unknown=False):
    """`rpc.resolve_outputs` (same signature and effect). For a ticket, the SDK is handed, where
    it reads the inputs' Struct, the inputs the engine's answer lacks, as it would read them out
    of that Struct (it reads only those). The mocks answer every input, so this is most often
    an empty map."""
    inputs = redeem(serialized_props)
    if inputs is not None:
        serialized_props = plain_rpc.deserialized({k: v for k, v in inputs.items() if k not in outputs})
    return SDK_RESOLVE_OUTPUTS(res, serialized_props, outputs, deps, resolvers, custom,
                               transform_using_type_metadata, keep_unknowns, resolve_missing_as_unknown)


def deserialize_properties(props_struct, keep_unknowns=None, keep_internal=True):
    """`rpc.deserialize_properties` (same signature and result); for a ticket, a copy of its
    inputs, which is what the SDK reads out of a Struct of plain data (numbers as floats, maps'
    nulls dropped), or with `keep_internal=False` the SDK's reading of that Struct."""
    inputs = redeem(props_struct)
    if inputs is None:
        return SDK_DESERIALIZE_PROPERTIES(props_struct, keep_unknowns, keep_internal)
    if keep_internal is False:
        return SDK_DESERIALIZE_PROPERTIES(plain_rpc.plain_struct(inputs), keep_unknowns, keep_internal)
    return plain_rpc.deserialized(inputs)
