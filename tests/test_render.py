"""tools/render.py writes a stack's Kubernetes manifests: through libyaml's emitter only where
libyaml writes the bytes `yaml.safe_dump` (PyYAML's emitter) writes, since the preview must stay
byte-identical to the one written before the faster path existed (tests/test_preview_output.py
checks every stack's manifests; here, documents built to sit on each side of the line), and over
the previous preview's files, removing those no longer declared."""
import json
import random
import string

import pytest
import yaml

from tools.render import dump_yaml, libyaml_writes_the_same, write_preview


def safe_dump(body):
    return yaml.safe_dump(body, sort_keys=True, default_flow_style=False)


def libyaml_dump(body):
    return yaml.dump(body, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)


LONG_SENTENCE = "Nothing to do while it fires; if the switch reports it missing, check the Alertmanager pods first."
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xyz-mlops-dev/serving:1.0.0-with-a-long-build-suffix"


@pytest.mark.parametrize("body, libyaml", [
    ({"metadata": {"name": "recsys", "labels": {"app.kubernetes.io/name": "recsys"}}, "spec": {"replicas": 3}}, True),
    ({"spec": {"containers": [{"image": IMAGE, "args": ["--port", "9000", "yes", "null", "1e3", "*x", "- y"]}]}}, True),
    ({"data": {"ratio": 0.5, "enabled": False, "empty": "", "none": None, "list": [], "map": {}}}, True),
    # Each of these is written differently by the two emitters, or could be.
    ({"annotations": {"runbook": LONG_SENTENCE}}, False),  # folded at the width, differently
    ({"": None}, False),  # PyYAML writes `? ''`, libyaml `'':`
    ({"summary": "caf\u00e9"}, False),  # escaped characters
    ({"expr": "rate(x[5m])\n  > 0.01\n"}, False),  # line breaks
    ({"tab": "a\tb"}, False),
    ({1: "a non-string key"}, False),
    ({"k" * 101: 1}, False),
    ({"when": ("a", "tuple")}, False),
])
def test_each_document_takes_the_path_that_writes_safe_dumps_bytes(body, libyaml):
    assert libyaml_writes_the_same(body) is libyaml
    assert dump_yaml(body) == safe_dump(body)


def test_what_is_sent_to_pyyaml_includes_what_libyaml_writes_differently():
    # Why the line is where it is: these come out differently from libyaml.
    dashboard = json.dumps({"title": "Requests, errors and latency",
                            "panels": [{"id": i, "expr": "sum(rate(x[5m]))"} for i in range(4)]}, indent=2)
    for body in ({"": None}, {"data": {"dashboard.json": dashboard}}, {"summary": "caf\u00e9 " * 30},
                 {"args": "x\ty" * 40}):
        assert libyaml_dump(body) != safe_dump(body)
        assert not libyaml_writes_the_same(body)
        assert dump_yaml(body) == safe_dump(body)


def test_a_sentence_is_sent_to_pyyaml_once_it_could_reach_the_folding_width():
    # A margin: single-line printable sentences were not seen to fold differently, double-quoted
    # ones were (the dashboard above), so none that could fold leaves PyYAML's path.
    short = {"metadata": {"annotations": {"description": "a b " * 12}}}  # ends at column 66
    assert libyaml_writes_the_same(short)
    deeper = {"spec": {"template": short}}  # four columns further right: 70 + quotes
    assert not libyaml_writes_the_same(deeper)
    assert dump_yaml(short) == safe_dump(short) and dump_yaml(deeper) == safe_dump(deeper)


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
        if roll < 0.8:
            return rng.choice(awkward)
        return rng.choice([rng.randint(-10**20, 10**20), rng.random() * 10 ** rng.randint(-12, 12), True, False,
                           None, float("inf"), float("nan")])

    def node(depth):
        roll = rng.random()
        if depth > 3 or roll < 0.45:
            return scalar()
        if roll < 0.75:
            return {str(scalar()) or "k": node(depth + 1) for _ in range(rng.randint(0, 4))}
        return [node(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(count):
        yield {str(scalar()) or "k": node(0) for _ in range(rng.randint(1, 5))}


def test_generated_documents_come_out_as_safe_dump_writes_them():
    through_libyaml = 0
    for body in _generated_documents(seed=11, count=800):
        through_libyaml += libyaml_writes_the_same(body)
        assert dump_yaml(body) == safe_dump(body), body
    assert through_libyaml >= 200  # the libyaml path was exercised, not only the fallback


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
