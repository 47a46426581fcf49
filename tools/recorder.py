"""Records every resource registration the program makes, as the engine would receive it."""
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.resource import RegisterResponse
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from . import plain_inputs, plain_rpc

SECRET = "[secret]"
_SIGNATURE = rpc._special_sig_key


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor (pulumi.runtime.mocks.MockMonitor, pulumi 3.272.0), keeping a record
    of each registration.

    `RegisterResource` is the SDK's, step for step, but for how values cross it: the request's
    inputs are read from their Struct once, for the mocks and the record alike, and when the mocks'
    answer is plain data it goes back as the Python values the SDK would read out of a Struct, in
    the SDK's own `RegisterResponse` (what its register path takes when there is no monitor),
    instead of a Struct the SDK would take apart again (tools/plain_rpc.py). An answer with a
    secret goes back as a Struct built directly; anything else (a resource reference, an asset)
    through the SDK's serializer, as does everything with `sdk_serializer=True`."""

    def __init__(self, mocks: pulumi.runtime.Mocks, sdk_serializer: bool = False):
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self._sdk_serializer = sdk_serializer

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # A resource reference among the inputs deserializes into a resource, which needs a loop.
        _ensure_event_loop()
        # A ticket's inputs (tools/plain_inputs.py), else read from the Struct. The mocks read
        # them and do not change them (tools/mocks.py).
        inputs = None
        if not self._sdk_serializer:
            inputs = plain_inputs.redeem(request.object)
            if inputs is None:
                inputs = plain_rpc.struct_to_dict(request.object)
        if inputs is None:
            inputs = rpc.deserialize_properties(request.object)
        id_, state = self.mocks.new_resource(MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=request.custom or False,
            transforms=_resolve_callbacks(request.transforms)))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
        record = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "custom": bool(request.custom),
            "inputs": normalize(inputs),
        }
        # What `pulumi up` keeps from the current state whatever the program says (the diff
        # must not promise those changes); only where set, so other records read as before.
        if request.ignoreChanges:
            record["ignoreChanges"] = sorted(request.ignoreChanges)
        self.records.append(record)
        outputs = None if self._sdk_serializer else plain_rpc.deserialized(state)
        if outputs is not None:
            return RegisterResponse(urn, id_, outputs, None, resource_pb2.Result.SUCCESS)
        # A secret among the outputs: the SDK reads it out of a Struct (and marks what holds it).
        response_object = None if self._sdk_serializer else plain_rpc.plain_struct(state)
        if response_object is None:
            response_object = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=response_object)


def normalize(value: Any) -> Any:
    """JSON-ready: secrets masked, integral floats as ints (the wire has only doubles),
    resource references as URNs, nulls dropped so an unset input and a None input read alike."""
    # Plain data by exact type first: most of a record is plain data, and the checks below for
    # a secret, a resource or a subclass ran at every value. Anything else (a secret's map, a
    # tuple, an Enum) takes the general path.
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict and _SIGNATURE not in value:
        return {k: normalize(v) for k, v in sorted(value.items()) if v is not None}
    if kind is list:
        return [normalize(v) for v in value]
    return _normalize_any(value)


def _normalize_any(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _mask(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Resource):
        return f"ref:{value._name}"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _mask(value: Any) -> Any:
    # Keys of a secret map stay visible (a reviewer sees *which* entries change), values never.
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return SECRET
