"""tools/plain_inputs.py: a resource's plain inputs reach the recorder as Python values, by a
ticket in place of the Struct; each reader of the ticket gets what it would read from the SDK's
own Struct, and anything but plain inputs is the SDK's Struct."""
import pulumi
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import rpc

from tools import plain_inputs

from sdk_stock import camel as _camel
from sdk_stock import run_on_own_loop as _run
from sdk_stock import sdk_functions
from sdk_stock import stock_rpc as _sdk
from sdk_stock import typed as _typed


class _Resource:
    """What the serializer and the output resolution read of a resource: its name and its output
    names' translation (the SDK's Resource gives these; the shortcut only passes it through)."""
    _name = "thing"

    def translate_output_property(self, prop: str) -> str:
        return prop


RESOURCE = _Resource()


def _ours(inputs, deps, resource=RESOURCE, translate=None, keep_output_values=False):
    return _run(plain_inputs.serialize_properties(inputs, deps, resource, translate, None, keep_output_values))


PLAIN_INPUTS = [
    {"name": "recsys", "replicas": 3, "ratio": 0.1, "enabled": True, "gone": None},
    {"metadata": {"name": "m", "labels": {"app_name": "x", "unset": None}},
     "spec": {"ports": [80, None, {"host_port": 1.5}], "empty": {}, "none_list": []}},
    {"text": "größe ✓", "big": 2**53, "negative": -7, "blank": ""},
    {"ports": (80, 443)},  # a tuple: the SDK's serializer makes it a list, plain data after all
    {},
]


@pytest.fixture(autouse=True)
def _fresh_tickets():
    plain_inputs.forget_issued()
    yield
    plain_inputs.forget_issued()


@pytest.mark.parametrize("inputs", PLAIN_INPUTS)
@pytest.mark.parametrize("translate", [None, _camel])
def test_plain_inputs_redeem_as_the_sdks_struct_reads_back(inputs, translate):
    ours_deps, sdk_deps = {}, {}
    ticket = _ours(inputs, ours_deps, translate=translate)
    sdk = _sdk("serialize_properties", inputs, sdk_deps, RESOURCE, translate)
    assert list(ticket.fields) == [plain_inputs.TICKET_KEY]
    redeemed = plain_inputs.redeem(ticket)
    assert _typed(redeemed) == _typed(_sdk("deserialize_properties", sdk))
    # The recorder's reading and the mock monitor's read path agree with the SDK's too.
    assert _typed(plain_inputs.deserialize_properties(ticket)) == _typed(redeemed)
    assert ours_deps == sdk_deps
    # A copy of the mocks' view: changing it leaves the ticket's inputs as they were.
    copy = plain_inputs.deserialize_properties(ticket)
    copy["added"] = 1.0
    assert "added" not in plain_inputs.redeem(ticket)


def test_each_ticket_names_its_own_resources_inputs():
    first, second = _ours({"name": "a"}, {}), _ours({"name": "b", "size": 2}, {})
    assert plain_inputs.redeem(first) == {"name": "a"}
    assert plain_inputs.redeem(second) == {"name": "b", "size": 2.0}


def test_dependencies_of_outputs_are_collected_per_input_as_the_sdk_collects_them():
    ours_deps, sdk_deps = {}, {}

    async def both():
        # Outputs are made on the running loop (one loop for both: the thread's own is left as
        # it is, for the forked programs other tests run).
        inputs = {"name": pulumi.Output.from_input("n"), "size": 4,
                  "tags": {"team": pulumi.Output.from_input("ml")}}
        ticket = await plain_inputs.serialize_properties(inputs, ours_deps, RESOURCE)
        with sdk_functions():
            sdk = await rpc.serialize_properties(inputs, sdk_deps, RESOURCE)
        return ticket, sdk

    ticket, sdk = _run(both())
    assert plain_inputs.redeem(ticket) == _sdk("deserialize_properties", sdk) == {
        "name": "n", "size": 4.0, "tags": {"team": "ml"}}
    assert ours_deps == sdk_deps and set(ours_deps) == {"name", "size", "tags"}


SECRET = {rpc._special_sig_key: rpc._special_secret_sig, "value": "s3cret"}


@pytest.mark.parametrize("inputs", [
    {"password": SECRET, "name": "n"},         # a secret: the SDK's Struct marks what holds it
    {"later": rpc.UNKNOWN},                    # an unknown value
    {"bundle": pulumi.StringAsset("hello")},   # an asset: a map with the signature key
])
def test_anything_but_plain_inputs_is_the_sdks_struct(inputs):
    ours = _ours(inputs, {})
    assert plain_inputs.redeem(ours) is None
    assert ours == _sdk("serialize_properties", inputs, {}, RESOURCE)


@pytest.mark.parametrize(("resource", "keep_output_values"), [(None, False), (RESOURCE, True)])
def test_no_ticket_for_what_is_not_a_resources_own_inputs(resource, keep_output_values):
    # No resource: a stack's outputs or an invoke's arguments. Output values kept: a call's or a
    # multi-language component's inputs. Both reach readers that know no tickets.
    inputs = {"name": "n", "size": 3}
    ours = _ours(inputs, {}, resource=resource, keep_output_values=keep_output_values)
    assert plain_inputs.redeem(ours) is None
    assert ours == _sdk("serialize_properties", inputs, {}, resource, None, None, keep_output_values)


def test_an_input_the_sdk_refuses_is_refused_with_the_sdks_message():
    inputs = {"name": "n", "odd": object()}
    with pytest.raises(ValueError) as ours:
        _ours(inputs, {})
    with pytest.raises(ValueError) as sdk:
        _sdk("serialize_properties", inputs, {}, RESOURCE)
    assert str(ours.value).replace(hex(id(inputs["odd"])), "") == str(sdk.value).replace(hex(id(inputs["odd"])), "")
    assert str(ours.value).startswith("While processing input: 'odd'")


def test_internal_keys_are_dropped_when_the_reader_asks_the_sdks_way():
    inputs = {"__defaults": ["name"], "name": "n", "spec": {"__inner": 1, "x": 2}}
    ticket = _ours(inputs, {})
    sdk = _sdk("serialize_properties", inputs, {}, RESOURCE)
    for keep_internal in (True, False):
        assert (_typed(plain_inputs.deserialize_properties(ticket, None, keep_internal))
                == _typed(_sdk("deserialize_properties", sdk, None, keep_internal)))
    assert "__defaults" not in plain_inputs.deserialize_properties(ticket, None, False)


def _resolved(serialized, outputs, resolve_outputs):
    got = {}

    def resolver(key):
        def resolve(value, known, secret, deps, failed):
            got[key] = (value, known, secret, failed)
        return resolve

    keys = ("name", "size", "spec", "extra")
    resolve_outputs(RESOURCE, serialized, outputs, {}, {k: resolver(k) for k in keys}, True)
    return {k: (_typed(v[0]), *v[1:]) for k, v in got.items()}


@pytest.mark.parametrize("outputs", [
    {"name": "n", "size": 3.0, "spec": {"x": [1.0]}},   # the mocks answer every input
    {"name": "from the engine"},                        # the inputs fill what the answer lacks
    {},
])
def test_outputs_resolve_from_a_ticket_as_from_the_sdks_struct(outputs):
    inputs = {"name": "n", "size": 3, "spec": {"x": [1, None], "y": None}}
    ticket = _ours(inputs, {})
    sdk_struct = _sdk("serialize_properties", inputs, {}, RESOURCE)
    answer = struct_pb2.Struct()
    answer.update(outputs)
    with sdk_functions():
        expected = _resolved(sdk_struct, answer, rpc.resolve_outputs)
    assert _resolved(ticket, answer, plain_inputs.resolve_outputs) == expected
    assert expected["extra"] == (("NoneType", "None"), True, False, None)


def test_a_struct_that_is_not_a_ticket_is_not_redeemed():
    struct = struct_pb2.Struct()
    struct.update({"name": "n"})
    assert plain_inputs.redeem(struct) is None
    assert plain_inputs.redeem({"name": "n"}) is None
    alone = struct_pb2.Struct()
    alone[plain_inputs.TICKET_KEY] = 0
    alone["other"] = "x"
    assert plain_inputs.redeem(alone) is None
