"""The image definition: hadolint-clean, multi-stage, non-root, no HEALTHCHECK, same entry point."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def test_hadolint_passes():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_shape():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 2 and "AS build" in froms[0]
    assert "ARG PYTHON_IMAGE=python:3.11." in "\n".join(lines) and "-slim" in "\n".join(lines)
    final_stage = lines[lines.index(froms[1]):]
    assert any(line.startswith("USER 10001") for line in final_stage)
    assert not any(line.startswith("HEALTHCHECK") for line in lines)
    assert not any(word in line for line in final_stage for word in ("apt-get", "gcc", "build-essential", "pip install"))
    assert final_stage[-1] == 'ENTRYPOINT ["python", "-m", "model_server"]'


def test_image_installs_exact_pins_only():
    requirements = (DOCKERFILE.parent / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith((" ", "#"))]
    assert pins and all("==" in line for line in pins)
    names = {line.split("==")[0] for line in pins}
    assert "seldon-core" not in names and "mlflow" not in names
    assert "requirements.txt" in DOCKERFILE.read_text()
