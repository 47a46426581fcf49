"""scripts/find-python: the interpreter every venv is built on (the Makefiles' PYTHON default).

The distribution's python3.11 (built with PGO and LTO) when it can make a venv, else the first
python3.11 on PATH, else python3. SYSTEM_PYTHON stands in for /usr/bin/python3.11 here."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from preview_run import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "find-python"
VENV_STALE = REPO_ROOT / "scripts" / "venv-stale"


def fake_python(path: Path, can_make_venvs: bool) -> Path:
    """An executable answering find-python's check (`-c 'import sys, ensurepip; ...'`) as told,
    and venv-stale's question (`-c '...print(sys.executable)'`) with its own path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho \"$0\"\nexit {0 if can_make_venvs else 1}\n")
    path.chmod(0o755)
    return path


def find_python(system_python: Path, path_dir: Path) -> str:
    # PATH: the fakes first, then what the script's shebang (env bash) needs.
    env = {**os.environ, "SYSTEM_PYTHON": str(system_python), "PATH": f"{path_dir}:/usr/bin:/bin"}
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def real_choice() -> str:
    """What the script prints on this machine, unfaked: the interpreter the Makefiles use."""
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=30, check=True).stdout.strip()


def test_the_distributions_python_comes_first_when_it_can_make_venvs(tmp_path):
    system = fake_python(tmp_path / "system" / "python3.11", can_make_venvs=True)
    fake_python(tmp_path / "bin" / "python3.11", can_make_venvs=True)
    assert find_python(system, tmp_path / "bin") == str(system)


@pytest.mark.parametrize("system_state", ["without-ensurepip", "absent"])
def test_otherwise_the_first_python311_on_path(tmp_path, system_state):
    system = tmp_path / "system" / "python3.11"
    if system_state == "without-ensurepip":
        fake_python(system, can_make_venvs=False)
    on_path = fake_python(tmp_path / "bin" / "python3.11", can_make_venvs=True)
    assert find_python(system, tmp_path / "bin") == str(on_path)


def test_the_real_interpreter_it_names_is_311_and_makes_venvs():
    chosen = real_choice()
    check = subprocess.run([chosen, "-c", "import sys, ensurepip; print(sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=30)
    assert (check.returncode, check.stdout.strip()) == (0, "(3, 11)"), (chosen, check.stderr)


@pytest.mark.parametrize("makefile", ["Makefile", "services/mlflow/Makefile", "services/pipeline/Makefile",
                                      "services/serving/Makefile"])
def test_every_makefile_takes_its_python_from_the_script(makefile):
    # One choice for every venv: a venv built on another interpreter would measure otherwise.
    [default] = re.findall(r"^PYTHON \?= (.*)$", (REPO_ROOT / makefile).read_text(), re.M)
    script = os.path.relpath(SCRIPT, (REPO_ROOT / makefile).parent)
    assert default == f"$(shell {script})"


def venv_made_with(venv: Path, executable: str) -> Path:
    """A venv folder as `python -m venv` leaves it, as far as the Makefiles look: its pyvenv.cfg and
    the rule's stamp, newer than the requirements."""
    venv.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(executable).parent}\ninclude-system-site-packages = false\n"
                                     f"version = 3.11.0\nexecutable = {executable}\n")
    (venv / ".installed").touch()
    return venv


def test_a_venv_made_with_another_interpreter_is_stale(tmp_path):
    python = fake_python(tmp_path / "bin" / "python3.11", can_make_venvs=True)
    stale = lambda venv: subprocess.run([str(VENV_STALE), str(python), str(venv)], capture_output=True,
                                        text=True, timeout=30, check=True).stdout.strip()
    assert stale(venv_made_with(tmp_path / "same", str(python))) == ""
    assert stale(venv_made_with(tmp_path / "other", "/opt/other/bin/python3.11")) == "FORCE"
    assert stale(tmp_path / "not-made-yet") == ""


def test_make_rebuilds_a_venv_made_with_another_interpreter(tmp_path):
    # `make -n venv` with VENV pointing at a venv whose stamp is up to date: only the interpreter differs.
    python = real_choice()
    plan = lambda venv: subprocess.run(["make", "-n", "venv", f"VENV={venv}", f"PYTHON={python}"], cwd=REPO_ROOT,
                                       capture_output=True, text=True, timeout=60).stdout
    same = venv_made_with(tmp_path / "same", str(Path(python).resolve()))
    assert "Nothing to be done" in plan(same)
    other = venv_made_with(tmp_path / "other", "/opt/other/bin/python3.11")
    assert f"rm -rf {other}\n{python} -m venv {other}" in plan(other)
