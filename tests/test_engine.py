"""The preview engine's departures from the SDK's stock path (tools/engine.py, tools/recorder.py,
tools/plain_rpc.py), each against what the SDK itself does. tests/test_preview_output.py compares
whole previews."""
import asyncio
import enum
import json
import logging
import textwrap

import pulumi.log
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from tools import engine, plain_rpc
from tools.warm import run_forked

from sdk_stock import run_on_own_loop as _run
from sdk_stock import camel as _camel
from sdk_stock import stock_rpc as _stock
from sdk_stock import typed as _typed

PLAIN_STATES = [
    {"name": "recsys", "replicas": 3, "ratio": 0.1, "enabled": True, "off": False},
    {"spec": {"a": None, "b": [], "c": {}, "d": [None, 1, "x", [2.5, {"e": None}]]}, "gone": None},
    # A secret as the mocks see it after deserialization: a map with the SDK's signature key.
    {"password": {rpc._special_sig_key: rpc._special_secret_sig, "value": "s3cret"}},
    {"unicode": "größe ✓", "big": 2**53, "negative": -7, "empty": ""},
]


@pytest.fixture(autouse=True)
def _sdk_functions_restored():
    yield
    plain_rpc.install()  # importing tools.engine installed the shortcuts; _stock() takes them out


@pytest.mark.parametrize("state", PLAIN_STATES)
def test_plain_state_becomes_the_struct_the_sdks_serializer_makes(state):
    sdk = _stock("serialize_properties", state, {})
    ours = plain_rpc.plain_struct(state)
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
    assert plain_rpc.plain_struct(state) is None
    assert plain_rpc.deserialized(state) is None


# Plain data the closed forms answer for: no secret, no unknown.
READ_BACK_STATES = [PLAIN_STATES[0], PLAIN_STATES[1], PLAIN_STATES[3],
                    {"deep": [[[{"x": [None, {"y": None, "z": 0}]}]]], "zero": 0, "minus": -0.0}]


@pytest.mark.parametrize("state", READ_BACK_STATES)
def test_plain_state_reads_back_as_the_sdk_reads_its_own_struct(state):
    sdk = _stock("deserialize_properties", _stock("serialize_properties", state, {}))
    assert _typed(plain_rpc.deserialized(state)) == _typed(sdk)


@pytest.mark.parametrize("state", READ_BACK_STATES + [PLAIN_STATES[2]])
def test_a_struct_of_plain_data_reads_as_the_sdk_reads_it(state):
    struct = _stock("serialize_properties", state, {})
    ours = plain_rpc.struct_to_dict(struct)
    if rpc._special_sig_key in repr(state):  # a secret: the SDK marks what holds it; ours declines
        assert ours is None
    else:
        assert repr(ours) == repr(_stock("deserialize_properties", struct))  # the same order too


@pytest.mark.parametrize("state", [
    {"later": rpc.UNKNOWN},                            # an unknown value: the SDK reads None or Unknown
    {"nested": [{"secret": {rpc._special_sig_key: rpc._special_secret_sig, "value": "x"}}]},
])
def test_values_the_sdk_reads_specially_are_left_to_it(state):
    assert plain_rpc.deserialized(state) is None
    assert plain_rpc.struct_to_dict(_stock("serialize_properties", state, {})) is None


@pytest.mark.parametrize(("value", "typ", "translate"), [
    ("text", str, None), (3, int, None), (2.5, None, None), (True, bool, None), (None, str, None),
    ("a string where a list is declared", list[str], None),
    ({"max_size": 3, "labels": {"app_name": "x"}, "ports": [80, None, {"host_port": 1}]}, None, _camel),
    ({"a_b": [1, [2, [3]]]}, None, None),
    ({"max_size": 3}, dict[str, int], _camel),   # typed: the SDK decides (no key translation)
    ((1, 2), None, None),                         # a tuple: the SDK's
    ({"tier": "x", "n": (1,)}, None, _camel),    # plain but for one value: the SDK's, whole
])
def test_the_serializer_shortcut_returns_what_the_sdks_serializer_returns(value, typ, translate):
    ours_deps, sdk_deps = [], []
    ours = _run(plain_rpc.serialize_property(value, ours_deps, "prop", None, translate, typ))
    sdk = _stock("serialize_property", value, sdk_deps, "prop", None, translate, typ)
    assert repr(ours) == repr(sdk)
    assert ours_deps == sdk_deps == []


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


def _cyclic():
    loop = {"name": "a"}
    loop["self"] = [loop]
    return loop


@pytest.mark.parametrize("value", [
    "text", 3, None, {"a": [1, {"b": None}]}, [[[]]],
    {"later": Unknown()}, [1, [2, Unknown()]],      # an unknown: found, by the SDK's walk
    _cyclic(),                                     # a cycle: the SDK's walk, which remembers what it saw
    (Unknown(),),                                  # a tuple: the SDK does not look inside
])
def test_the_unknowns_check_answers_as_the_sdks(value):
    assert plain_rpc.contains_unknowns(value) == _stock("contains_unknowns", value)


def _py_name(name: str) -> str:
    # Every key changes, the secret's own signature and "value" keys too, if anything touched them.
    return "py_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@pytest.mark.parametrize(("output", "typ"), [
    ({"maxSize": 3.0, "labels": {"appName": "x"}, "ports": [80.0, None, {"hostPort": 1.0}]}, None),
    ([{"aB": [{"cD": "e"}]}], None),
    ("text", None), (2.0, None),
    (2.0, int),                                    # typed: the SDK makes it an int
    ({"maxSize": 3.0}, dict[str, float]),          # typed: the SDK decides
    ({"wrapped": {rpc._special_sig_key: rpc._special_secret_sig, "value": {"inNer": 1.0}}}, None),
])
def test_the_output_translation_shortcut_returns_what_the_sdk_returns(output, typ):
    ours = plain_rpc.translate_output_properties(output, _py_name, typ)
    sdk = _stock("translate_output_properties", output, _py_name, typ)
    assert repr(ours) == repr(sdk)


def _nested(depth: int):
    value = {"leaf": 1}
    for i in range(depth):
        value = [{"level": i, "next": value}]
    return value


def test_values_deeper_than_the_closed_forms_go_are_the_sdks():
    # 100 levels: past the closed forms' limit (64), well within the SDK's recursion.
    deep = _nested(100)
    ours = _run(plain_rpc.serialize_property(deep, [], "prop", None, _camel, None))
    assert repr(ours) == repr(_stock("serialize_property", deep, [], "prop", None, _camel, None))
    assert _typed(plain_rpc.translate_output_properties(deep, _py_name)) == \
        _typed(_stock("translate_output_properties", deep, _py_name, None))
    assert plain_rpc.contains_unknowns(deep) is _stock("contains_unknowns", deep) is False
    state = {"deep": deep}
    struct = _stock("serialize_properties", state, {})
    assert plain_rpc.deserialized(state) is None and plain_rpc.struct_to_dict(struct) is None
    assert plain_rpc.plain_struct(state) is None


@pytest.mark.parametrize("state", [None, "text", [1, 2]])
def test_a_state_that_is_not_a_map_has_no_closed_form(state):
    assert plain_rpc.plain_struct(state) is None
    assert plain_rpc.deserialized(state) is None


@pytest.mark.parametrize("value", [
    {"replicas": 3.0, "ratio": 0.5, "flag": True, "name": "recsys", "gone": None, "list": [1.0, None, {"b": 2.0}]},
    {"password": {rpc._special_sig_key: rpc._special_secret_sig, "value": {"user": "u", "pass": "p"}}},
    (1.0, "x"), Tier.GOLD, float("inf"), -0.0, 2**60, "",
])
def test_the_records_plain_data_path_writes_what_the_general_path_writes(value):
    from tools.recorder import _normalize_any, normalize
    assert json.dumps(normalize(value)) == json.dumps(_normalize_any(value))


@pytest.fixture
def _engine():
    from pulumi.runtime.settings import SETTINGS
    saved = SETTINGS.engine
    yield lambda engine: setattr(SETTINGS, "engine", engine)
    SETTINGS.engine = saved


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.mark.parametrize("level", [logging.DEBUG, logging.WARNING])
def test_debug_lines_reach_a_mock_engines_logger_that_keeps_them(level, _engine):
    from pulumi.runtime.mocks import MockEngine
    logger = logging.getLogger(f"test-engine-debug-{level}")
    logger.propagate, lines = False, _Lines()
    logger.addHandler(lines)
    logger.setLevel(level)
    _engine(MockEngine(logger))
    pulumi.log.debug("registering")
    assert lines.lines == (["registering"] if level == logging.DEBUG else [])


def test_debug_lines_reach_any_other_engine(_engine):
    class Engine:
        def __init__(self):
            self.requests = []

        def Log(self, request):  # noqa: N802 (gRPC method name)
            self.requests.append(request.message)

    engine = Engine()
    _engine(engine)
    pulumi.log.debug("registering")
    assert engine.requests == ["registering"]
