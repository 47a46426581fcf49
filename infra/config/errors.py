"""Pydantic validation errors as the one-line messages people read: key, problem, bad value,
what is allowed. Shared by the stack config and the model files."""
import json
from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel, ValidationError

from .base import FieldError


def describe_errors(exc: ValidationError, root: type[BaseModel], key: Callable[[list], str],
                    hidden: Collection[str] = ()) -> list[str]:
    """`key` renders a location as the reader writes it; `hidden` are root fields that are not
    set under the root's own keys (and so are never offered as allowed keys)."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc += cause.field.split(".")
        name = key(loc)
        message = _message(err, lambda: allowed_keys(root, loc[:-1], hidden))
        lines.append(f"{name} {message}" if name else message)
    return sorted(dict.fromkeys(lines))


def _message(err: dict, allowed: Callable[[], list[str]]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"is not a known key (allowed: {', '.join(allowed())})"
    if kind == "missing":
        return "is required"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be "):]
    else:
        msg = msg[0].lower() + msg[1:]
    if "(got" not in msg:
        msg += f" (got {show(err.get('input'))})"
    return msg


def allowed_keys(root: type[BaseModel], loc: list, hidden: Collection[str] = ()) -> list[str]:
    model = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        annotation = getattr(field, "annotation", None)
        # Optional sections are `X | None`: look through the union.
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        nested = next((a for a in candidates if issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    skip = hidden if model is root else ()
    return sorted(f.alias or n for n, f in model.model_fields.items() if n not in skip)


def show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
