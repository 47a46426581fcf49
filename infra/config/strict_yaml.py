"""YAML for files people write (stack files, model files): a key given twice in one mapping is an
error, not "last one wins". PyYAML (like the YAML 1.1 loaders Pulumi's CLI uses) silently keeps
the second value, so a second `mlops:cluster:` block would quietly drop the first one's settings."""
from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first_line: int):
        super().__init__(f"line {line}: key {key} repeats the one on line {first_line} (only one may be given)")
        self.key, self.line, self.first_line = key, line, first_line


class _UniqueKeyLoader(yaml.SafeLoader):
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


def load(text: str) -> Any:
    """yaml.safe_load, refusing duplicate keys with DuplicateKeyError (line and key)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
