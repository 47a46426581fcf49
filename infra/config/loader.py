"""From Pulumi's flat config map to a validated PlatformConfig, or one error line per problem.

Every line names the stack file, the key, the bad value and what is allowed, e.g.
`stacks/Pulumi.dev.yaml: mlops:cluster.gpu.maxSize must be >= minSize (got 0 < 1)`.
"""
import json
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from .base import FieldError
from .defaults import deep_merge, defaults_for
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
    data = _stack_values(raw)
    environment = data.get("environment")
    if environment not in ENVIRONMENTS:
        # Without a known environment there are no defaults: report that alone, not the
        # dozens of "is required" lines that follow from it.
        shown = "nothing" if environment is None else _show(environment)
        raise ConfigError([f"{source}: {NAMESPACE}:environment must be one of {', '.join(ENVIRONMENTS)} (got {shown})"])
    merged = deep_merge(defaults_for(environment), data)
    try:
        return PlatformConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError([f"{source}: {line}" for line in _describe(exc)]) from None


def _stack_values(raw: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in FOREIGN_KEYS:
            data[FOREIGN_KEYS[key]] = value
        elif key.startswith(f"{NAMESPACE}:"):
            data[key.split(":", 1)[1]] = _decode(value)
    return data


def _decode(value: Any) -> Any:
    # Pulumi hands structured values to the program as JSON text.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc += cause.field.split(".")
        key = _key(loc)
        lines.append(f"{key} {_message(err, loc)}")
    return sorted(dict.fromkeys(lines))


def _key(loc: list) -> str:
    if loc and loc[0] in FOREIGN_KEYS.values():
        foreign = next(k for k, v in FOREIGN_KEYS.items() if v == loc[0])
        return foreign + "".join(_part(p) for p in loc[1:])
    head = f"{NAMESPACE}:{loc[0]}" if loc else f"{NAMESPACE}"
    return head + "".join(_part(p) for p in loc[1:])


def _part(p: Any) -> str:
    return f"[{p}]" if isinstance(p, int) else f".{p}"


def _message(err: dict, loc: list) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"is not a known key (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return "is required"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be "):]
    else:
        msg = msg[0].lower() + msg[1:]
    if "(got" not in msg:
        msg += f" (got {_show(err.get('input'))})"
    return msg


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _allowed_keys(loc: list) -> list[str]:
    model: type[BaseModel] = PlatformConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    foreign = FOREIGN_KEYS.values() if model is PlatformConfig else ()
    return sorted(f.alias or n for n, f in model.model_fields.items() if n not in foreign)
