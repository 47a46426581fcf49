"""From `models/*.yaml` to validated ModelSpecs, or one error line per problem.

Every line names the file, the key, what is wrong and what is allowed, e.g.
`models/recsys.yaml: replicas.prod.min must be >= 3 for 99.9% availability across three zones (got 2)`.
All files are read and checked before the program declares anything, so a bad file never
half-deploys a model (or the platform).
"""
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from infra.config import ConfigError
from infra.config.base import FieldError

from .schema import ModelSpec

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DIR = REPO_ROOT / "models"
# Tests point the program at a copy of models/ to add, break or canary a model.
DIR_ENV = "MLOPS_MODELS_DIR"
SUFFIXES = (".yaml", ".yml")


class ModelFileError(ConfigError):
    """A ConfigError, so the entry point's handler (print the lines, exit 2) covers it too."""


def models_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


def load_models(directory: Path | None = None, repositories: tuple[str, ...] | list[str] = ()) -> list[ModelSpec]:
    """`repositories`: the stack's ECR repositories, which a bare `<repository>:<tag>` image names."""
    directory = directory or models_dir()
    if not directory.is_dir():
        raise ModelFileError([f"{_shown(directory)}: no such model directory (set {DIR_ENV} or create models/)"])
    lines: list[str] = []
    models: dict[str, tuple[ModelSpec, Path]] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file()):
        source = _shown(path)
        try:
            model = _load_one(path, source, tuple(repositories))
        except ModelFileError as exc:
            lines += exc.lines
            continue
        if model.name in models:
            lines.append(f"{source}: name {model.name} is already used by {_shown(models[model.name][1])}")
            continue
        models[model.name] = (model, path)
    if lines:
        raise ModelFileError(lines)
    return [model for model, _ in sorted(models.values(), key=lambda m: m[0].name)]


def load_models_or_exit(repositories: tuple[str, ...] | list[str] = (), directory: Path | None = None) -> list[ModelSpec]:
    """Mirrors infra/__main__.py for stack config: the lines on stderr, exit 2, no traceback."""
    try:
        return load_models(directory, repositories)
    except ModelFileError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        sys.exit(2)


def _load_one(path: Path, source: str, repositories: tuple[str, ...]) -> ModelSpec:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ModelFileError([f"{source}:{where} is not valid YAML ({getattr(exc, 'problem', None) or exc})"]) from None
    if not isinstance(doc, dict):
        raise ModelFileError([f"{source}: must be a mapping of model settings such as name, team, image (got {_kind(doc)})"])
    try:
        model = ModelSpec.model_validate(doc)
    except ValidationError as exc:
        raise ModelFileError([f"{source}: {line}" for line in _describe(exc)]) from None
    if model.name != path.stem:
        raise ModelFileError([f"{source}: name must match the file name {path.stem} (got {model.name})"])
    for key, image in (("image", model.image), ("canary.image", model.canary and model.canary.image)):
        if image and "/" not in image and image.split(":")[0].split("@")[0] not in repositories:
            raise ModelFileError([
                f"{source}: {key} must name a repository of the platform's registry "
                f"({', '.join(sorted(repositories)) or 'none'}) or be a full reference <registry>/<repository>:<tag> (got {image})"
            ])
    return model


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"]]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc += cause.field.split(".")
        key = ".".join(str(p) for p in loc)
        lines.append(f"{key} {_message(err, loc)}" if key else _message(err, loc))
    return sorted(dict.fromkeys(lines))


def _message(err: dict, loc: list) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"is not a known key (allowed: {', '.join(_allowed_keys(loc[:-1]))})"
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


def _allowed_keys(loc: list) -> list[str]:
    model: type[BaseModel] = ModelSpec
    for part in loc:
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        annotation = getattr(field, "annotation", None)
        # Optional sections (canary) are `X | None`: look through the union.
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        nested = next((a for a in candidates if issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _kind(value: Any) -> str:
    return {type(None): "an empty file", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _shown(path: Path) -> str:
    path = path.resolve() if not path.is_absolute() else path
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
