"""From `models/*.yaml` to validated ModelSpecs, or one error line per problem.

Every line names the file, the key, what is wrong and what is allowed, e.g.
`models/recsys.yaml: replicas.prod.min must be >= 3 for 99.9% availability across three zones (got 2)`.
All files are read and checked before the program declares anything, so a bad file never
half-deploys a model (or the platform).
"""
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infra.config import ConfigError
from infra.config import strict_yaml
from infra.config.errors import describe_errors

from .schema import ModelSpec

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DIR = REPO_ROOT / "models"
# Tests point the program at a copy of models/ to add, break or canary a model.
DIR_ENV = "MLOPS_MODELS_DIR"
SUFFIXES = (".yaml", ".yml")
# Read by people, not the program. Anything else in the folder is refused rather than skipped: a
# fraud.YAML or team-a/fraud.yaml that deploys nothing, without a word, is a silent outage.
DOCUMENTS = ("README.md",)


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
    for path in sorted(directory.iterdir()):
        source = _shown(path)
        if path.name.startswith(".") or path.name in DOCUMENTS:
            continue
        if path.is_dir():
            lines.append(f"{source}/: model files must lie directly in {_shown(directory)}/ as <name>.yaml; subfolders are not read")
            continue
        if path.suffix not in SUFFIXES:
            lines.append(f"{source}: is not read: model files are {_shown(directory)}/<name>.yaml or .yml, lowercase extension (got {path.name})")
            continue
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
        doc = strict_yaml.load(path.read_text())
    except strict_yaml.DuplicateKeyError as exc:
        raise ModelFileError([f"{source}: {exc}"]) from None
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
    return describe_errors(exc, ModelSpec, lambda loc: ".".join(str(p) for p in loc))


def _kind(value: Any) -> str:
    return {type(None): "an empty file", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _shown(path: Path) -> str:
    path = path.resolve() if not path.is_absolute() else path
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
