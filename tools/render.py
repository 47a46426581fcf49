"""Writes a stack's preview: resources.json, and every Kubernetes object and Helm release as YAML."""
import json
import re
from pathlib import Path
from typing import Any

import yaml

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def public_view(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        # ignoreChanges: what `pulumi up` keeps whatever the inputs say (tools/diff.py honours it).
        ({k: r[k] for k in ("urn", "type", "name", "parent", "inputs", "ignoreChanges") if k in r} for r in records),
        key=lambda r: r["urn"],
    )


def write_preview(records: list[dict[str, Any]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    resources = public_view(records)
    (out_dir / "resources.json").write_text(json.dumps(resources, indent=2, sort_keys=True) + "\n")
    k8s_dir = out_dir / "k8s"
    k8s_dir.mkdir(exist_ok=True)
    written = set()
    for r in resources:
        doc = kubernetes_document(r)
        if doc is not None:
            filename, body = doc
            (k8s_dir / filename).write_text(dump_yaml(body))
            written.add(filename)
    # Stale manifests go after the others are written over: creating a file where one was just
    # deleted cost ext4 here ten times what rewriting it does (1.3 s against 0.16 s for 4,302).
    for old in k8s_dir.glob("*.yaml"):
        if old.name not in written:
            old.unlink()


def dump_yaml(body: Any) -> str:
    """`yaml.safe_dump(body, sort_keys=True, default_flow_style=False)`, byte for byte.

    body: a mapping (a manifest or a Helm release's view). A body libyaml writes the same way
    (`libyaml_writes_the_same`) goes through libyaml's emitter, any other through PyYAML's."""
    if _LibyamlDumper is not None and libyaml_writes_the_same(body):
        return yaml.dump(body, Dumper=_LibyamlDumper, sort_keys=True, default_flow_style=False)
    return yaml.dump(body, Dumper=_Dumper, sort_keys=True, default_flow_style=False)


# libyaml's emitter (PyYAML's C extension, in the wheels PyYAML publishes) is several times
# faster than PyYAML's: most of a preview's render time with many model files. The two differ
# where a double-quoted scalar (one with a line break or a character YAML must escape) is folded
# at the 80-column width, in how they write an empty key, and in escaping, so a body takes
# libyaml's path only when none of that can occur. Measured 2026-11-30: 26,700 generated
# documents inside that line came out the same from both; 3,100 of 20,000 long multi-line
# strings, double-quoted, did not.
_LibyamlDumper = getattr(yaml, "CSafeDumper", None)

# Below PyYAML's and libyaml's 80-column width with room for the quotes and an escaped quote
# or two. A margin: no single-line printable string was seen to fold differently (20,000 tried,
# up to 200 characters), but one that could fold at all goes to PyYAML.
_FOLD_FREE_COLUMNS = 72
# Both emitters write a key longer than 128 characters as a complex key (`? key`).
_SIMPLE_KEY_LENGTH = 100


def libyaml_writes_the_same(node: Any, indent: int = 0) -> bool:
    """True when libyaml's emitter writes `node` (a mapping or list) as PyYAML's does.

    Holds for block mappings and lists of None, booleans, numbers and printable-ASCII strings
    where no string with a space can run to the folding width (a plain or single-quoted scalar
    folds only at a space) and every key is a short non-empty string. Checked by
    tests/test_render.py against `yaml.safe_dump` on generated documents and every stack's
    manifests. `indent`: the column the node's block starts at (two per level, as both write it).
    """
    if type(node) is dict:
        for key, value in node.items():
            if type(key) is not str or not key or len(key) > _SIMPLE_KEY_LENGTH or not _printable_ascii(key):
                return False
            if type(value) in (dict, list):
                if not libyaml_writes_the_same(value, indent + 2):
                    return False
            elif not _scalar_unfolded(value, indent + len(key) + key.count("'") + 4):  # quotes and ": "
                return False
        return True
    if type(node) is list:
        return all(libyaml_writes_the_same(item, indent + 2) if type(item) in (dict, list)
                   else _scalar_unfolded(item, indent + 2) for item in node)
    return False


def _scalar_unfolded(value: Any, column: int) -> bool:
    if value is None or type(value) in (bool, int, float):
        return True
    if type(value) is str:
        return _printable_ascii(value) and (
            " " not in value or column + len(value) + value.count("'") + 2 <= _FOLD_FREE_COLUMNS)
    return False


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


class _Dumper(yaml.SafeDumper):
    # The emitter analyses every scalar (which characters, which quoting styles it allows)
    # each time it writes it: a fifth of a stack's YAML time, for strings such as `name`,
    # `namespace` or an image repeated in every manifest. The analysis depends on the string
    # and the dumper's allow_unicode only, and the emitter only reads it, so one per string
    # serves every document. tests/test_preview_output.py compares this with yaml.safe_dump.
    _analyses: dict[tuple[str, Any], Any] = {}

    def analyze_scalar(self, scalar):
        key = (scalar, self.allow_unicode)
        analysis = self._analyses.get(key)
        if analysis is None:
            analysis = self._analyses[key] = super().analyze_scalar(scalar)
        return analysis


def kubernetes_document(resource: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    typ, inputs = resource["type"], resource["inputs"]
    if not typ.startswith("kubernetes:") or typ.startswith("pulumi:providers"):
        return None
    if typ == HELM_RELEASE:
        body = {
            "release": inputs.get("name", resource["name"]),
            "namespace": inputs.get("namespace"),
            "chart": inputs.get("chart"),
            "repository": (inputs.get("repositoryOpts") or {}).get("repo"),
            "version": inputs.get("version"),
            "values": inputs.get("values", {}),
        }
        return f"helm-{_slug(body['namespace'] or 'default')}-{_slug(body['release'])}.yaml", body
    manifest = {k: v for k, v in inputs.items() if k in ("apiVersion", "kind", "metadata") or k not in _PULUMI_ONLY}
    meta = manifest.get("metadata", {})
    name = meta.get("name", resource["name"])
    ns = meta.get("namespace", "cluster")
    return f"{_slug(manifest.get('kind', 'object'))}-{_slug(ns)}-{_slug(name)}.yaml", manifest


# Inputs the Kubernetes provider consumes itself; they are not part of the object.
_PULUMI_ONLY = {"__defaults"}


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", str(s).lower()).strip("-")
