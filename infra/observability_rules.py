"""The platform's alert rules as kept in the repository (observability/rules/*.rules.yaml)."""
from pathlib import Path
from typing import Any

from infra.config import strict_yaml

RULES_DIR = Path(__file__).resolve().parent.parent / "observability" / "rules"


def platform_rule_files() -> dict[str, dict[str, Any]]:
    return {p.name.removesuffix(".rules.yaml"): strict_yaml.safe_load(p.read_text()) for p in sorted(RULES_DIR.glob("*.rules.yaml"))}
