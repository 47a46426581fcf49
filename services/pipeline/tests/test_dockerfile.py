"""The image definition: hadolint-clean, built from the repository root, non-root, exact pins only."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[1]
DOCKERFILE = SERVICE / "Dockerfile"


def instructions() -> list[str]:
    return [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_hadolint_passes():
    result = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_the_cli_as_non_root_with_the_contract():
    lines = instructions()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 2 and "AS build" in froms[0]
    final = lines[lines.index(froms[1]):]
    assert any(line.startswith("USER 10001") for line in final)
    assert "COPY contracts/clickstream.yaml ./contracts/clickstream.yaml" in final
    assert not any(word in line for line in final for word in ("apt-get", "pip install"))
    assert final[-1] == 'ENTRYPOINT ["python", "-m", "pipeline"]'
    assert (SERVICE.parents[1] / "contracts" / "clickstream.yaml").is_file()  # the build context is the repo root


def test_image_installs_exact_pins_with_cuda_torch():
    pins = [line for line in (SERVICE / "requirements-torch.txt").read_text().splitlines() if line and not line.startswith((" ", "#"))]
    assert len(pins) > 20 and all("==" in line for line in pins)
    names = {line.split("==")[0]: line.split("==")[1] for line in pins}
    assert names["torch"] == "2.13.0" and any(name.startswith("nvidia-cuda-runtime") for name in names)
    runtime = [line for line in (SERVICE / "requirements.txt").read_text().splitlines() if line and not line.startswith((" ", "#"))]
    assert set(runtime) <= set(pins)  # the image installs the runtime pins exactly
    assert "--no-deps -r /tmp/requirements-torch.txt" in DOCKERFILE.read_text()
