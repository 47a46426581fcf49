"""From Pulumi's flat config map to a validated PlatformConfig, or one error line per problem.

Every line names the stack file, the key, the bad value and what is allowed, e.g.
`stacks/Pulumi.dev.yaml: mlops:cluster.gpu.maxSize must be >= minSize (got 0 < 1)`.
"""
import json
from typing import Any, get_args

from pydantic import ValidationError

from .defaults import deep_merge, defaults_for
from .errors import describe_errors, show
from .platform import Environment, PlatformConfig

NAMESPACE = "mlops"
# Keys outside the project namespace that the program reads, and the field they fill.
FOREIGN_KEYS = {"aws:region": "region", "pagerduty:token": "pagerduty_token"}
ENVIRONMENTS = get_args(Environment)


class ConfigError(Exception):
    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def load_platform_config(raw: dict[str, Any], source: str) -> PlatformConfig:
    """`raw` is Pulumi's config map (`mlops:cluster` -> JSON text or value); `source` the stack file."""
    try:
        data = _stack_values(raw)
    except ConfigError as exc:
        raise ConfigError([f"{source}: {line}" for line in exc.lines]) from None
    environment = data.get("environment")
    if environment not in ENVIRONMENTS:
        # Without a known environment there are no defaults: report that alone, not the
        # dozens of "is required" lines that follow from it.
        shown = "nothing" if environment is None else show(environment)
        raise ConfigError([f"{source}: {NAMESPACE}:environment must be one of {', '.join(ENVIRONMENTS)} (got {shown})"])
    merged = deep_merge(defaults_for(environment), data)
    try:
        return PlatformConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError([f"{source}: {line}" for line in _describe(exc)]) from None


def merged_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The stack's values over its environment's defaults, before validation (camelCase keys)."""
    data = _stack_values(raw)
    environment = data.get("environment")
    return deep_merge(defaults_for(environment), data) if environment in ENVIRONMENTS else data


def _stack_values(raw: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    dotted: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if key in FOREIGN_KEYS:
            data[FOREIGN_KEYS[key]] = value
        elif key.startswith(f"{NAMESPACE}:"):
            name = key.split(":", 1)[1]
            if "." in name:
                dotted.append((name, _decode(value)))
            else:
                data[name] = _decode(value)
    # `mlops:cluster.endpointPublicAccess: false` (the README's spelling, and what
    # `pulumi config set` without --path writes) sets the same value as the nested form.
    for name, value in sorted(dotted):
        _set_dotted(data, name, value)
    return data


def _set_dotted(data: dict[str, Any], name: str, value: Any) -> None:
    *parents, leaf = name.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError([f"{NAMESPACE}:{name} cannot be set: {NAMESPACE}:{'.'.join(parents[:i + 1])} is a value, not a section (got {show(child)})"])
        node = child
    if leaf in node:
        raise ConfigError([f"{NAMESPACE}:{name} is given twice, dotted and nested under {NAMESPACE}:{parents[0]} (keep one)"])
    node[leaf] = value


def _decode(value: Any) -> Any:
    # Pulumi hands structured values to the program as JSON text.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _describe(exc: ValidationError) -> list[str]:
    return describe_errors(exc, PlatformConfig, _key, hidden=FOREIGN_KEYS.values())


def _key(loc: list) -> str:
    if loc and loc[0] in FOREIGN_KEYS.values():
        foreign = next(k for k, v in FOREIGN_KEYS.items() if v == loc[0])
        return foreign + "".join(_part(p) for p in loc[1:])
    head = f"{NAMESPACE}:{loc[0]}" if loc else f"{NAMESPACE}"
    return head + "".join(_part(p) for p in loc[1:])


def _part(p: Any) -> str:
    return f"[{p}]" if isinstance(p, int) else f".{p}"
