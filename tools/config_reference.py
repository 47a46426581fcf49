"""Prints the configuration reference (every stack key, its default per environment) as
Markdown, from the config model and the per-environment defaults themselves.

    python -m tools.config_reference       # the table the README embeds
"""
import json
import sys
from typing import Any

from pydantic import BaseModel

from infra.config.defaults import defaults_for
from infra.config.loader import FOREIGN_KEYS, NAMESPACE
from infra.config.platform import PlatformConfig

ENVIRONMENTS = ("dev", "staging", "prod")


def rows(model: type[BaseModel] = PlatformConfig, prefix: str = "") -> list[tuple[str, str, str, bool]]:
    out = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += rows(annotation, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", field.description or "", name, field.is_required()))
    return out


def _lookup(defaults: dict[str, Any], dotted: str) -> Any:
    node: Any = defaults
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _cell(value: Any, required: bool) -> str:
    if value is None:
        return "**required**" if required else "unset"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text}`".replace("|", "\\|")


def reference() -> str:
    defaults = {env: defaults_for(env) for env in ENVIRONMENTS}
    foreign = {v: k for k, v in FOREIGN_KEYS.items()}
    lines = ["| key | dev | staging | prod | meaning |", "|---|---|---|---|---|"]
    for dotted, description, field_name, required in rows():
        key = foreign.get(field_name) if "." not in dotted and field_name in foreign else f"{NAMESPACE}:{dotted}"
        cells = [_cell(_lookup(defaults[env], dotted), required) for env in ENVIRONMENTS]
        lines.append(f"| `{key}` | {' | '.join(cells)} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
