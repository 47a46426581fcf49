"""tools/render.py writes a stack's Kubernetes manifests (tools/yaml_dump.py): through libyaml's
emitter where libyaml writes the bytes `yaml.safe_dump` (PyYAML's emitter) writes, with PyYAML
writing the mapping values libyaml could write differently, and whole through PyYAML otherwise,
since the preview must stay byte-identical to the one written before the faster path existed
(tests/test_preview_output.py checks every stack's manifests; here, documents built to sit on
each side of the line); and over the previous preview's files, removing those no longer declared."""
import json
import random
import string

import pytest
import yaml

from tools.render import write_preview
from tools.yaml_dump import dump_yaml, yaml_path


def safe_dump(body):
    return yaml.safe_dump(body, sort_keys=True, default_flow_style=False)


def libyaml_dump(body):
    return yaml.dump(body, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)


LONG_SENTENCE = "Nothing to do while it fires; if the switch reports it missing, check the Alertmanager pods first."
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xyz-mlops-dev/serving:1.0.0-with-a-long-build-suffix"
PROMQL = ('(\n  sum(rate(seldon_api_executor_server_requests_seconds_count{namespace="recsys",'
          'deployment_name="recsys",code=~"5..|Unknown"}[5m]))\n  or vector(0)\n)\n/\nsum(rate(x[5m]))\n')
SHARED = {"app": "recsys"}
WHOLE, VALUES, PYYAML = "libyaml", "libyaml+pyyaml-values", "pyyaml"


@pytest.mark.parametrize("body, path", [
    ({"metadata": {"name": "recsys", "labels": {"app.kubernetes.io/name": "recsys"}}, "spec": {"replicas": 3}}, WHOLE),
    ({"spec": {"containers": [{"image": IMAGE, "args": ["--port", "9000", "yes", "null", "1e3", "*x", "- y"]}]}}, WHOLE),
    ({"data": {"ratio": 0.5, "enabled": False, "empty": "", "none": None, "list": [], "map": {}}}, WHOLE),
    # Mapping values libyaml may write differently: PyYAML writes them where they stand.
    ({"annotations": {"runbook": LONG_SENTENCE}}, VALUES),  # folded at the width
    ({"summary": "caf\u00e9"}, VALUES),  # escaped characters
    ({"expr": "rate(x[5m])\n  > 0.01\n"}, VALUES),  # line breaks
    ({"tab": "a\tb"}, VALUES),
    ({"spec": {"groups": [{"name": "sli", "rules": [{"expr": PROMQL, "record": f"r{i}"} for i in range(2)]}]}}, VALUES),
    ({"deep": [[{"expr": PROMQL, "note": LONG_SENTENCE}, [{"k": PROMQL}]]]}, VALUES),  # `- - expr:` lines
    ({"quoted key": {"'yes'": LONG_SENTENCE, "no": PROMQL}}, VALUES),
    # Whole through PyYAML.
    ({"": None}, PYYAML),  # PyYAML writes `? ''`, libyaml `'':`
    ({1: "a non-string key"}, PYYAML),
    ({"k" * 101: 1}, PYYAML),
    ({"when": ("a", "tuple")}, PYYAML),
    ({"args": [LONG_SENTENCE]}, PYYAML),  # a list item, not a mapping value
    ({"selector": SHARED, "labels": SHARED}, PYYAML),  # one object twice: an anchor and an alias
])
def test_each_document_takes_the_path_that_writes_safe_dumps_bytes(body, path):
    assert yaml_path(body) == path
    assert dump_yaml(body) == safe_dump(body)


def test_what_libyaml_writes_differently_is_written_by_pyyaml():
    # Why the line is where it is: these come out differently from libyaml.
    dashboard = json.dumps({"title": "Requests, errors and latency",
                            "panels": [{"id": i, "expr": "sum(rate(x[5m]))"} for i in range(4)]}, indent=2)
    for body in ({"": None}, {"data": {"dashboard.json": dashboard}}, {"summary": "caf\u00e9 " * 30},
                 {"args": "x\ty" * 40}, {"spec": {"rules": [{"expr": PROMQL * 2}]}}):
        assert libyaml_dump(body) != safe_dump(body)
        assert yaml_path(body) != WHOLE
        assert dump_yaml(body) == safe_dump(body)


def test_a_sentence_goes_to_pyyaml_once_it_could_reach_the_folding_width():
    # A margin: single-line printable sentences were not seen to fold differently, double-quoted
    # ones were (the dashboard above), so none that could fold is left to libyaml.
    short = {"metadata": {"annotations": {"description": "a b " * 12}}}  # ends at column 66
    assert yaml_path(short) == WHOLE
    deeper = {"spec": {"template": short}}  # four columns further right: 70 + quotes
    assert yaml_path(deeper) == VALUES
    assert dump_yaml(short) == safe_dump(short) and dump_yaml(deeper) == safe_dump(deeper)


def test_a_manifest_that_spells_the_mark_is_written_by_pyyaml(monkeypatch):
    from tools import yaml_dump
    body = {"a": PROMQL, "b": yaml_dump._MARK + "0"}  # b reads as the mark of a's value
    assert yaml_path(body) == PYYAML
    assert dump_yaml(body) == safe_dump(body)


def _generated_documents(seed: int, count: int):
    """Nested mappings and lists of awkward scalars: YAML's indicator characters, words YAML
    reads as booleans or numbers, long strings with and without spaces, deep nesting."""
    rng = random.Random(seed)
    text = string.ascii_letters + string.digits + string.punctuation
    awkward = ["yes", "no", "null", "~", "", "-", "- x", "a: b", "#c", "c #d", "*a", "&a", "!t", "%p", "@x", "`x",
               "? q", "|", ">", "'", '"', "{}", "[]", "1e3", "0x1F", "0o17", ".inf", "-.nan", "2026-11-30",
               "12:30:00", "=", "<<", "...", "---", " lead", "trail ", "a  b", "a\\b", "1_000", "+1"]

    def scalar():
        roll = rng.random()
        if roll < 0.3:
            return "".join(rng.choice(text) for _ in range(rng.randint(0, 160)))  # no spaces
        if roll < 0.6:
            return "".join(rng.choice(text + "    ") for _ in range(rng.randint(0, 70)))
        if roll < 0.7:
            return rng.choice(awkward)
        if roll < 0.8:  # what only PyYAML is trusted to write: breaks, escapes, long sentences
            pieces = [rng.choice(awkward), "\n", "\n  ", "\t", " ", "caf\u00e9", "\u2028", "\x85", "\ufeff", '"',
                      "\\", "'", "".join(rng.choice(text) for _ in range(rng.randint(1, 30)))]
            return "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        return rng.choice([rng.randint(-10**20, 10**20), rng.random() * 10 ** rng.randint(-12, 12), True, False,
                           None, float("inf"), float("nan")])

    def key():  # mostly names as manifests have them, sometimes anything
        return rng.choice(["name", "expr", "app.kubernetes.io/name", "data", "x"]) if rng.random() < 0.7 else str(scalar())

    def node(depth):
        roll = rng.random()
        if depth > 3 or roll < 0.45:
            return scalar()
        if roll < 0.75:
            return {key() or "k": node(depth + 1) for _ in range(rng.randint(0, 4))}
        return [node(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(count):
        yield {key() or "k": node(0) for _ in range(rng.randint(1, 5))}


def test_generated_documents_come_out_as_safe_dump_writes_them():
    paths = {WHOLE: 0, VALUES: 0, PYYAML: 0}
    for body in _generated_documents(seed=11, count=1200):
        paths[yaml_path(body)] += 1
        assert dump_yaml(body) == safe_dump(body), body
    assert min(paths.values()) >= 150, paths  # every path exercised, not only the fallback


def _config_map(name: str, data: dict) -> dict:
    return {"urn": f"urn:pulumi:dev::p::kubernetes:core/v1:ConfigMap::{name}", "type": "kubernetes:core/v1:ConfigMap",
            "name": name, "parent": None,
            "inputs": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "mlops"},
                       "data": data}}


def test_a_second_preview_rewrites_what_is_still_declared_and_removes_what_is_not(tmp_path):
    write_preview([_config_map("kept", {"a": "1"}), _config_map("dropped", {"b": "2"})], tmp_path)
    k8s = tmp_path / "k8s"
    assert sorted(p.name for p in k8s.iterdir()) == ["configmap-mlops-dropped.yaml", "configmap-mlops-kept.yaml"]
    (k8s / "notes.txt").write_text("not a manifest")
    write_preview([_config_map("kept", {"a": "changed"})], tmp_path)
    assert sorted(p.name for p in k8s.iterdir()) == ["configmap-mlops-kept.yaml", "notes.txt"]
    assert yaml.safe_load((k8s / "configmap-mlops-kept.yaml").read_text())["data"] == {"a": "changed"}
    assert json.loads((tmp_path / "resources.json").read_text())[0]["name"] == "kept"


def test_the_double_quoted_shortcut_only_takes_what_pyyaml_double_quotes():
    # tools/yaml_dump.py skips PyYAML's per-character analysis for a value it can tell will be
    # double-quoted; PyYAML's own choice must agree on every string it takes.
    from tools import yaml_dump
    rng = random.Random(5)
    pieces = ["a", " ", "\n", "\n ", "'", '"', "\\", "\t", "caf\u00e9", "\x85", "\u2028", "\ufeff", "#", ": ", "- ", "yes"]
    taken = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        if not yaml_dump._double_quoted(text):
            continue
        taken += 1
        emitter = yaml.emitter.Emitter(None)
        emitter.event = yaml.ScalarEvent(None, "tag:yaml.org,2002:str", (True, True), text)
        assert emitter.choose_scalar_style() == '"', repr(text)
    assert taken >= 1000


@pytest.mark.parametrize("value, orjson_writes", [
    ([{"urn": "urn:pulumi:dev::p::aws:s3/bucket:Bucket::lake", "inputs": {"tags": {"b": "1", "a": "2"}, "n": 3.0,
      "flags": [True, False, None], "empty": {}, "none": [], "nested": [[{}], []]}}], True),
    ({"ratio": 0.0001, "big": 1e16, "neg": -0.0, "int": -7, "text": 'a "quoted" \\ \n\t\b\f\x01/ line'}, True),
    ({"summary": "caf\u00e9"}, False),  # json escapes non-ASCII, orjson writes it as it is
    ({"del": "\x7f"}, False),
    ({"nan": float("nan")}, False),  # json writes NaN, orjson null
    ({"inf": [float("-inf")]}, False),
    ({"tiny": 1e-05}, False),  # json 1e-05, orjson 0.00001
    ({"tinier": [9.1e-08]}, False),  # json 9.1e-08, orjson 9.1e-8
    ({"huge": 2 ** 70}, False),  # past orjson's 64-bit integers
    ({1: "a non-string key"}, False),
    ({"a string that looks like a tiny float": ": 0.00001"}, False),  # sent to json, never different
    ({"names": ["node-1e-5", "pipeline-2", "v-0.00001", "ratio:1e-5"], "n": 2.5e-3}, True),  # inside strings
    ({"list": [1, -1e-05]}, False),  # a list item's number
])
def test_resources_json_is_what_json_dumps_writes(value, orjson_writes):
    from tools.json_dump import dump_json, written_by_orjson
    assert written_by_orjson(value) is orjson_writes
    assert dump_json(value) == json.dumps(value, indent=2, sort_keys=True)


def test_generated_values_come_out_as_json_dumps_writes_them():
    from tools.json_dump import dump_json, written_by_orjson
    rng = random.Random(7)
    through_orjson = 0
    for _ in range(3000):
        floats = [rng.random() * 10 ** rng.randint(-8, 20), float(rng.randint(-10 ** 6, 10 ** 6)) / rng.choice([1, 3, 8])]
        value = {"k" + str(rng.randint(0, 9)): rng.choice(
            [rng.choice(floats), rng.randint(-2 ** 63, 2 ** 63 - 1), "".join(chr(rng.randint(0, 130)) for _ in range(rng.randint(0, 6))),
             [rng.choice(floats)], {"x": None, "y": [True]}]) for _ in range(rng.randint(1, 4))}
        through_orjson += written_by_orjson(value)
        assert dump_json(value) == json.dumps(value, indent=2, sort_keys=True), value
    assert through_orjson >= 1000
