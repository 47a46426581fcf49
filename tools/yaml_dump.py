"""`dump_yaml(body)`: the bytes `yaml.safe_dump(body, sort_keys=True, default_flow_style=False)`
writes, most of the time through libyaml's emitter (several times faster than PyYAML's).

The preview must stay byte-identical to the one written before the faster path existed, and the
two emitters do not always agree: they fold a double-quoted scalar (one with a line break or a
character YAML must escape) differently at the 80-column width, write an empty key and escapes
differently. Measured 2026-11-30: 26,700 generated documents inside the line below came out the
same from both; 3,100 of 20,000 long multi-line strings, double-quoted, did not. So:

- a document whose keys and scalars all sit inside the line goes through libyaml whole;
- a document where only some *mapping values* are strings outside it (a PrometheusRule's indented
  PromQL, a long runbook sentence) goes through libyaml with a placeholder in each such value,
  and PyYAML's emitter writes each of those values at the column and indent it would have had;
- any other document (an awkward key, a list item outside the line, a shared sub-object that
  YAML would write as an anchor) goes through PyYAML's emitter whole.

tests/test_render.py compares all three with `yaml.safe_dump` on documents built at the line and
on generated ones; tests/test_preview_output.py on every stack's manifests.
"""
from __future__ import annotations

import io
import re
import secrets
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

# Below PyYAML's and libyaml's 80-column width with room for the quotes and an escaped quote
# or two. A margin: no single-line printable string was seen to fold differently (20,000 tried,
# up to 200 characters), but one that could fold at all is written by PyYAML.
_FOLD_FREE_COLUMNS = 72
# Both emitters write a key longer than 128 characters as a complex key (`? key`).
_SIMPLE_KEY_LENGTH = 100

_STR = "tag:yaml.org,2002:str"

# libyaml's emitter (PyYAML's C extension, in the wheels PyYAML publishes); None where PyYAML
# was built without it, and then every document takes PyYAML's emitter.
_CSafeDumper = getattr(yaml, "CSafeDumper", None)


def dump_yaml(body: Any) -> str:
    """`yaml.safe_dump(body, sort_keys=True, default_flow_style=False)`, byte for byte.

    body: a mapping (a manifest or a Helm release's view). Returns the YAML text."""
    return _dump(body)[0]


def yaml_path(body: Any) -> str:
    """Which way `dump_yaml` writes `body`: "libyaml", "libyaml+pyyaml-values" or "pyyaml"."""
    return _dump(body)[1]


def _dump(body: Any) -> tuple[str, str]:
    if _CSafeDumper is not None:
        values: list[str] = []
        try:
            marked = _mark_values(body, 0, values, set())
        except _PyyamlWrites:
            pass
        else:
            text = yaml.dump(marked, Dumper=_LibyamlDumper, sort_keys=True, default_flow_style=False)
            if not values:
                return text, "libyaml"
            spliced = _splice(text, values)
            if spliced is not None:
                return spliced, "libyaml+pyyaml-values"
    return yaml.dump(body, Dumper=_PyyamlDumper, sort_keys=True, default_flow_style=False), "pyyaml"


class _PyyamlWrites(Exception):
    """The document holds something only PyYAML's emitter is trusted to write."""


# A plain scalar libyaml writes as it is (letters and digits, read back as a string), unique to
# this process so no manifest's own text can be mistaken for it.
_MARK = "mlopsvalue" + secrets.token_hex(8) + "n"
_MARKED_LINE = re.compile(": " + _MARK + r"(\d+)\n")


def _mark_values(node: Any, indent: int, values: list[str], seen: set[int]) -> Any:
    """`node` (a mapping or list whose block starts at column `indent`) with each mapping value
    libyaml may write differently replaced by a mark, the values appended to `values` in mark
    order; the nodes on the way to a mark are copies, `node` itself is left as it is.

    Raises _PyyamlWrites for a key or list item outside the line, or a container met twice."""
    if id(node) in seen:  # YAML writes it as an anchor and aliases; left to PyYAML
        raise _PyyamlWrites
    seen.add(id(node))
    if type(node) is dict:
        copy = None
        for key, value in node.items():
            if type(key) is not str or not key or len(key) > _SIMPLE_KEY_LENGTH or not _printable_ascii(key):
                raise _PyyamlWrites
            if type(value) is dict or type(value) is list:
                new = _mark_values(value, indent + 2, values, seen)
            elif _scalar_unfolded(value, indent + len(key) + key.count("'") + 4):  # quotes and ": "
                continue
            elif type(value) is str:
                new = f"{_MARK}{len(values)}"
                values.append(value)
            else:
                raise _PyyamlWrites
            if new is not value:
                if copy is None:
                    copy = dict(node)
                copy[key] = new
        return node if copy is None else copy
    if type(node) is list:
        copy = None
        for i, item in enumerate(node):
            if type(item) is dict or type(item) is list:
                new = _mark_values(item, indent + 2, values, seen)
                if new is not item:
                    if copy is None:
                        copy = list(node)
                    copy[i] = new
            elif not _scalar_unfolded(item, indent + 2):
                raise _PyyamlWrites
        return node if copy is None else copy
    raise _PyyamlWrites


def _scalar_unfolded(value: Any, column: int) -> bool:
    """Both emitters write `value`, starting at `column`, the same: None, a boolean, a number or a
    printable-ASCII string with no space it could be folded at."""
    if value is None or type(value) in (bool, int, float):
        return True
    if type(value) is str:
        return _printable_ascii(value) and (
            " " not in value or column + len(value) + value.count("'") + 2 <= _FOLD_FREE_COLUMNS)
    return False


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _splice(text: str, values: list[str]) -> str | None:
    """libyaml's `text` with each marked value as PyYAML's emitter writes it there; None when
    the marks are not each found exactly once."""
    found: list[int] = []

    def pyyaml_value(match: re.Match) -> str:
        index = int(match.group(1))
        found.append(index)
        line_start = text.rfind("\n", 0, match.start()) + 1
        return ":" + _pyyaml_value(values[index], column=match.start() + 1 - line_start,
                                   indent=_key_column(text, line_start)) + "\n"

    spliced = _MARKED_LINE.sub(pyyaml_value, text)
    return spliced if sorted(found) == list(range(len(values))) else None


def _key_column(text: str, line_start: int) -> int:
    """The column a block mapping's key starts at on this line: after the indentation and any
    `- ` of the lists it opens. The mapping's indent, which PyYAML's emitter indents a value's
    continuation lines from."""
    at = line_start
    while True:
        if text.startswith(" ", at):
            at += 1
        elif text.startswith("- ", at):
            at += 2
        else:
            return at - line_start


_resolver = yaml.resolver.Resolver()


def _pyyaml_value(value: str, column: int, indent: int) -> str:
    """A string as PyYAML's emitter writes a block mapping's value whose `:` ends at `column`,
    in a mapping indented `indent` columns: the style it chooses (plain, single- or
    double-quoted), folded where it folds, from the space after the `:` to the scalar's end."""
    stream = io.StringIO()
    emitter = yaml.emitter.Emitter(stream)
    # The emitter's state right after it wrote the key's `:` (expect_block_mapping_simple_value).
    emitter.column, emitter.indent = column, indent
    emitter.whitespace = emitter.indention = False
    implicit = (_resolver.resolve(ScalarNode, value, (True, False)) == _STR,
                _resolver.resolve(ScalarNode, value, (False, True)) == _STR)
    emitter.event = yaml.ScalarEvent(None, _STR, implicit, value)
    if _double_quoted(value):
        # What analyze_scalar and choose_scalar_style would decide, without their walk; the
        # writer reads only the scalar from the analysis.
        emitter.style = '"'
        emitter.analysis = yaml.emitter.ScalarAnalysis(
            scalar=value, empty=not value, multiline="\n" in value, allow_flow_plain=False, allow_block_plain=False,
            allow_single_quoted=False, allow_double_quoted=True, allow_block=False)
    emitter.states.append(None)
    emitter.expect_scalar()
    return stream.getvalue()


def _double_quoted(value: str) -> bool:
    """PyYAML's emitter writes `value` double-quoted wherever it stands: it holds a line break
    followed by a space, or a character outside printable ASCII and the line break (PyYAML's
    `analyze_scalar` then allows neither plain nor single-quoted style; `allow_unicode` is off).
    Its analysis walks the string in Python, character by character: most of a PrometheusRule's
    time, whose PromQL is indented over several lines."""
    return "\n " in value or not _printable_ascii(value.replace("\n", ""))


class _FastRepresenter:
    """SafeRepresenter's nodes for dicts, lists, strings, booleans, ints and None, built without
    its per-object type lookups, and the resolver's tag for a scalar remembered per string.

    Once libyaml emits a manifest, the representer and resolver are most of its time: with both
    fast paths the 4,088 manifests a 200-model dev stack sends to libyaml whole took 1.78 s of
    CPU instead of 2.29 s (2026-12-01, this machine). The nodes are those SafeRepresenter builds for
    `default_flow_style=False` (any other setting takes its own path): mappings sorted as it
    sorts them, a dict or list met again returned as the same node (an alias). Any other type
    goes to SafeRepresenter. The resolver's answer depends only on the string and the implicit
    flags while no path resolver is added (none is in these dumpers)."""

    _scalar_tags: dict[tuple[str, tuple[bool, bool]], str] = {}

    def represent_data(self, data: Any) -> Any:
        kind = type(data)
        if kind is str:
            return ScalarNode(_STR, data, style=self.default_style)
        if self.default_flow_style is not False:
            return super().represent_data(data)
        if kind is dict or kind is list:
            node = self.represented_objects.get(id(data))
            if node is not None:
                return node
            self.object_keeper.append(data)
            represent = self.represent_data
            if kind is list:
                items: list = []
                node = self.represented_objects[id(data)] = SequenceNode(
                    "tag:yaml.org,2002:seq", items, flow_style=False)
                items.extend(represent(item) for item in data)
                return node
            pairs: list = []
            node = self.represented_objects[id(data)] = MappingNode("tag:yaml.org,2002:map", pairs, flow_style=False)
            mapping = list(data.items())
            if self.sort_keys:
                try:
                    mapping = sorted(mapping)
                except TypeError:
                    pass
            for key, value in mapping:
                pairs.append((represent(key), represent(value)))
            return node
        if data is None:
            return ScalarNode("tag:yaml.org,2002:null", "null", style=self.default_style)
        if kind is bool:
            return ScalarNode("tag:yaml.org,2002:bool", "true" if data else "false", style=self.default_style)
        if kind is int:
            return ScalarNode("tag:yaml.org,2002:int", str(data), style=self.default_style)
        return super().represent_data(data)

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, tuple(implicit))
        tag = self._scalar_tags.get(key)
        if tag is None:
            tag = self._scalar_tags[key] = super().resolve(kind, value, implicit)
        return tag


class _PyyamlDumper(_FastRepresenter, yaml.SafeDumper):
    # The emitter analyses every scalar (which characters, which quoting styles it allows)
    # each time it writes it: a fifth of a stack's YAML time, for strings such as `name`,
    # `namespace` or an image repeated in every manifest. The analysis depends on the string
    # and the dumper's allow_unicode only, and the emitter only reads it, so one per string
    # serves every document.
    _analyses: dict[tuple[str, Any], Any] = {}

    def analyze_scalar(self, scalar):
        key = (scalar, self.allow_unicode)
        analysis = self._analyses.get(key)
        if analysis is None:
            analysis = self._analyses[key] = super().analyze_scalar(scalar)
        return analysis


_LibyamlDumper = type("_LibyamlDumper", (_FastRepresenter, _CSafeDumper), {}) if _CSafeDumper else None
