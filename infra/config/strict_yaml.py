"""YAML for files people write (stack files, model files): a key given twice in one mapping is an
error, not "last one wins". PyYAML (like the YAML 1.1 loaders Pulumi's CLI uses) silently keeps
the second value, so a second `mlops:cluster:` block would quietly drop the first one's settings."""
from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first_line: int):
        super().__init__(f"line {line}: key {key} repeats the one on line {first_line} (only one may be given)")
        self.key, self.line, self.first_line = key, line, first_line


class _UniqueKeys:
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base constructor reports unhashable keys itself
            line = key_node.start_mark.line + 1
            if key in first:
                raise DuplicateKeyError(key, line, first[key])
            first[key] = line
        return super().construct_mapping(node, deep)


# libyaml parses (its C scanner and parser) about 5x faster than PyYAML's pure-Python ones (a
# model file: 3.6 ms pure, of ~48 ms a model costs the preview); the constructor and resolver are
# the same Python code, so a document loads as the same data. libyaml's error messages name
# less ("found character that cannot start any token", not which character): a document it
# refuses is parsed again by the pure parser, whose error is the one raised.
_FAST_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    pass


class _FastUniqueKeyLoader(_UniqueKeys, _FAST_BASE):
    pass


def load(text: str) -> Any:
    """yaml.safe_load, refusing duplicate keys with DuplicateKeyError (line and key).
    Any other YAMLError is PyYAML's pure parser's, with its message and line."""
    return _load(text, _FastUniqueKeyLoader, _UniqueKeyLoader)


def safe_load(text: str) -> Any:
    """yaml.safe_load, parsed by libyaml where PyYAML has it; errors as yaml.safe_load raises them."""
    return _load(text, _FAST_BASE, yaml.SafeLoader)


def _load(text: str, fast: type, pure: type) -> Any:
    try:
        return yaml.load(text, Loader=fast)  # noqa: S506 (SafeLoader and CSafeLoader subclasses)
    except DuplicateKeyError:
        raise
    except yaml.YAMLError:
        return yaml.load(text, Loader=pure)  # noqa: S506
