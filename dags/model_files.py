"""What the DAGs read from the model files (`models/<name>.yaml`, next to this folder in the
repository git-sync clones): the name, the latency SLO the canary is judged by and the
minimum improvement the evaluation gate requires.

A plain YAML read, not infra/models (pydantic is not in the Airflow image): the Pulumi
program validates the same files before anything is deployed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
# The seed's accuracy gate: a candidate must beat the baseline by 2 points of HR@10.
DEFAULT_MIN_IMPROVEMENT = 0.02


@dataclass(frozen=True)
class ModelFile:
    name: str
    slo_p99_ms: int
    min_improvement: float
    canary_percent: int


def read(path: Path) -> ModelFile:
    """One model file; ValueError naming the file and key when a key the DAGs need is missing."""
    doc = yaml.safe_load(path.read_text()) or {}
    try:
        name, p99 = doc["name"], int(doc["slo"]["p99LatencyMs"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: needs name and slo.p99LatencyMs") from None
    min_improvement = float((doc.get("gates") or {}).get("minImprovement", DEFAULT_MIN_IMPROVEMENT))
    return ModelFile(name, p99, min_improvement, int((doc.get("canary") or {}).get("trafficPercent", 0)))


def all_models(directory: Path = MODELS_DIR) -> list[ModelFile]:
    return [read(path) for path in sorted(directory.glob("*.yaml"))]
