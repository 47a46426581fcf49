"""The preview engine's departures from the SDK's stock path (tools/engine.py, tools/recorder.py),
each against what the SDK itself does. tests/test_preview_output.py compares whole previews."""
import asyncio
import enum
import json
import textwrap

import pytest
from pulumi.runtime import rpc

from tools import engine
from tools.recorder import _plain_struct
from tools.warm import run_forked

PLAIN_STATES = [
    {"name": "recsys", "replicas": 3, "ratio": 0.1, "enabled": True, "off": False},
    {"spec": {"a": None, "b": [], "c": {}, "d": [None, 1, "x", [2.5, {"e": None}]]}, "gone": None},
    # A secret as the mocks see it after deserialization: a map with the SDK's signature key.
    {"password": {rpc._special_sig_key: rpc._special_secret_sig, "value": "s3cret"}},
    {"unicode": "größe ✓", "big": 2**53, "negative": -7, "empty": ""},
]


def _run(coroutine):
    # Not asyncio.run: it unsets the thread's event loop, which forked programs below inherit.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@pytest.mark.parametrize("state", PLAIN_STATES)
def test_plain_state_becomes_the_struct_the_sdks_serializer_makes(state):
    sdk = _run(rpc.serialize_properties(state, {}))
    ours = _plain_struct(state)
    assert ours is not None
    assert ours == sdk
    assert ours.SerializeToString(deterministic=True) == sdk.SerializeToString(deterministic=True)


class Tier(str, enum.Enum):
    GOLD = "gold"


@pytest.mark.parametrize("state", [
    {"ports": (80, 443)},             # a tuple: the SDK makes it a list
    {"tier": Tier.GOLD},              # a str subclass: the SDK serializes an Enum by value
    {"nested": {"at": [object()]}},   # anything else: the SDK's serializer decides (or refuses)
    {1: "a non-string key"},
])
def test_anything_but_plain_data_is_left_to_the_sdks_serializer(state):
    assert _plain_struct(state) is None


def test_the_inline_executor_hands_back_results_and_exceptions():
    def fail():
        raise ValueError("monitor refused")

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(engine._InlineExecutor(max_workers=1))
        assert await loop.run_in_executor(None, lambda: 42) == 42
        with pytest.raises(ValueError, match="monitor refused"):
            await loop.run_in_executor(None, fail)

    _run(main())


PROGRAM = textwrap.dedent("""
    import pulumi
    a = pulumi.CustomResource("test:index:Thing", "a", {"size": 3, "tags": {"team": None, "tier": "gold"}})
    b = pulumi.CustomResource("test:index:Thing", "b", {"peer": a, "peerId": a.id,
                                                        "secret": pulumi.Output.secret("x")})
    c = pulumi.CustomResource("test:index:Thing", "c", {"fromB": b.urn.apply(lambda u: u.split("::")[-1]),
                                                        "list": [1, 2.5, None, {"k": [True]}]})
    # An asset among the inputs: the monitor's state is no longer plain data, so the SDK's
    # serializer answers (nested in the running loop when the executor is inline), and the
    # asset comes back to the program through the response.
    class Bundle(pulumi.CustomResource):
        source: pulumi.Output[pulumi.Asset]
    d = Bundle("test:index:Bundle", "d", {"source": pulumi.StringAsset("hello")})
    e = pulumi.CustomResource("test:index:Thing", "e", {"text": d.source.apply(lambda s: s.text),
                                                        "sizeFromA": a.size})
    pulumi.export("e", e.id)
""")


def _records(program, fast: bool) -> list[dict]:
    def job() -> int:
        if not fast:
            engine.use_sdk_stock_path()
        records = engine.run_program("dev", {}, [], program=program)
        # An asset's record is its str(), which names its address: left out of the comparison.
        for record in records:
            if record["name"] == "d":
                record["inputs"] = sorted(record["inputs"])
        print(json.dumps(sorted(records, key=lambda r: r["urn"]), sort_keys=True))
        return 0

    [outcome] = run_forked([job], width=1)
    assert outcome.code == 0, outcome.stderr[-2000:]
    return json.loads(outcome.stdout.strip().splitlines()[-1])


def test_a_program_with_references_and_secrets_records_alike_on_both_paths(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    fast, stock = _records(program, fast=True), _records(program, fast=False)
    assert fast == stock
    by_name = {r["name"]: r for r in fast}
    assert set(by_name) == {"a", "b", "c", "d", "e"}
    # The mock monitor takes a custom resource's reference as its id; the id came back from the
    # mocks through the response.
    assert by_name["b"]["inputs"]["peer"] == by_name["b"]["inputs"]["peerId"] == "a-id"
    assert by_name["b"]["inputs"]["secret"] == "[secret]"
    assert by_name["c"]["inputs"]["fromB"] == "b"
    assert by_name["c"]["inputs"]["list"] == [1, 2.5, None, {"k": [True]}]
    assert by_name["e"]["inputs"] == {"text": "hello", "sizeFromA": 3}
