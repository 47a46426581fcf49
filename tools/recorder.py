"""Records every resource registration the program makes, as the engine would receive it."""
import threading
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

SECRET = "[secret]"


class _InputsSeen:
    """The monitor's mocks, keeping the inputs of the registration each thread is serving.

    The SDK's mock monitor deserializes a registration's inputs for `new_resource`; the recorder
    takes them from there rather than deserializing the request a second time (about a third of
    the monitor's time per resource). The monitor serves registrations on the SDK's executor
    threads, several at once, hence one slot per thread."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        self._mocks = mocks
        self._seen = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mocks, name)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self._seen.inputs = args.inputs
        return self._mocks.new_resource(args)

    def take_inputs(self) -> dict[str, Any]:
        inputs = self._seen.inputs
        del self._seen.inputs
        return inputs


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(_InputsSeen(mocks))
        self.records: list[dict[str, Any]] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            record = {
                "urn": response.urn,
                "type": request.type,
                "name": request.name,
                "parent": request.parent or None,
                "custom": bool(request.custom),
                "inputs": normalize(self.mocks.take_inputs()),
            }
            # What `pulumi up` keeps from the current state whatever the program says (the diff
            # must not promise those changes); only where set, so other records read as before.
            if request.ignoreChanges:
                record["ignoreChanges"] = sorted(request.ignoreChanges)
            self.records.append(record)
        return response


def normalize(value: Any) -> Any:
    """JSON-ready: secrets masked, integral floats as ints (the wire has only doubles),
    resource references as URNs, nulls dropped so an unset input and a None input read alike."""
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
