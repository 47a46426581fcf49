"""Stack files (stacks/Pulumi.<stack>.yaml) to the flat config map Pulumi hands a program."""
import json
from pathlib import Path
from typing import Any

import yaml

from infra.config import strict_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"


class StackFileError(Exception):
    pass


def available_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def stray_stack_files() -> list[str]:
    """One line per file in stacks/ that neither Pulumi nor the preview would read as a stack
    (Pulumi.qa.yml, pulumi.qa.yaml, qa.yaml): a stack that silently never deploys."""
    return [f"stacks/{p.name}: is not read: stack files are stacks/Pulumi.<stack>.yaml (got {p.name})"
            for p in sorted(STACKS_DIR.iterdir())
            if not p.name.startswith(".") and p.name != "README.md"
            and not (p.is_file() and p.name.startswith("Pulumi.") and p.name.endswith(".yaml") and len(p.name) > len("Pulumi..yaml"))]


def stack_file(stack: str) -> Path:
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def load_stack_config(stack: str, path: Path | None = None) -> dict[str, str]:
    path = path or stack_file(stack)
    rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    if not path.exists():
        raise StackFileError(f"{rel}: no such stack file (stacks: {', '.join(available_stacks())})")
    try:
        doc = strict_yaml.load(path.read_text()) or {}
    except strict_yaml.DuplicateKeyError as exc:
        raise StackFileError(f"{rel}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise StackFileError(f"{rel}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise StackFileError(f"{rel}: must have a top-level `config:` mapping")
    return {key: _as_pulumi_value(value) for key, value in config.items()}


def _as_pulumi_value(value: Any) -> str:
    # The CLI passes structured values as JSON text and scalars as their string form.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
