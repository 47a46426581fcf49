"""The warm preview server (tools/preview_server.py): what it serves is what a preview run in its
own process writes, it never serves code older than the checkout, and it goes away.

Each test runs real `python -m tools.preview` processes against a real server, in a server folder
of its own (MLOPS_PREVIEW_SERVER_DIR), on the dev stack only: a server start imports the SDKs
(about 2.5 s of CPU)."""
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from preview_run import REPO_ROOT, run_preview
from tools import preview_server
from tools.warm import run_forked


def _preview(checkout: Path, server_dir: Path, *argv: str, mode: str = "require", **env: str):
    environment = {**os.environ, "MLOPS_PREVIEW_SERVER": mode, "MLOPS_PREVIEW_SERVER_DIR": str(server_dir), **env}
    environment.pop("CI", None)
    return subprocess.run([sys.executable, "-m", "tools.preview", *argv], cwd=checkout, env=environment,
                          capture_output=True, text=True, timeout=300)


def _stop(checkout: Path, server_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "tools.preview_server", "stop"], cwd=checkout, timeout=60,
                   env={**os.environ, "MLOPS_PREVIEW_SERVER_DIR": str(server_dir)}, capture_output=True)


def _log(server_dir: Path) -> str:
    return "".join(p.read_text() for p in server_dir.glob("*.log"))


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.fixture()
def server_dir():
    # Not under pytest's tmp_path: a unix socket's path is limited to 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="ps-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_preview_starts_the_server_and_the_next_is_served_as_a_run_here(server_dir, tmp_path):
    try:
        # No server yet: the preview runs in its own process, then starts one with the caller's
        # environment (not the PULUMI_CONFIG its own program run set, which would make the next
        # caller's key differ and every run cold).
        first = _preview(REPO_ROOT, server_dir, "dev", "--out", str(tmp_path / "first"), mode="auto")
        assert first.returncode == 0, first.stderr
        _wait_for(lambda: " ready " in _log(server_dir))
        # A probe that connects and says nothing leaves the server running.
        status = subprocess.run([sys.executable, "-m", "tools.preview_server", "status"], cwd=REPO_ROOT,
                                env={**os.environ, "MLOPS_PREVIEW_SERVER_DIR": str(server_dir)},
                                capture_output=True, text=True, timeout=60)
        assert status.stdout.startswith("a preview server runs for")

        served = _preview(REPO_ROOT, server_dir, "dev", "--out", str(tmp_path / "served"), mode="auto")
        # Run here: forked from this test process, as the other tests' previews (the same bytes
        # as a fresh interpreter's, tests/test_preview_output.py).
        here = run_preview(tmp_path / "here", "dev")
        assert served.returncode == here.returncode == 0, served.stderr + here.stderr
        assert " runs preview " in _log(server_dir)
        assert served.stdout == here.stdout == first.stdout
        _same_tree(tmp_path / "served", tmp_path / "here")

        # A bad stack: the same one line and exit 2 from the server's fork.
        bad_served = _preview(REPO_ROOT, server_dir, "nosuchstack", "--out", str(tmp_path / "bad"))
        bad_here = run_preview(tmp_path / "bad", "nosuchstack")
        assert bad_served.returncode == bad_here.returncode == 2
        assert bad_served.stderr == bad_here.stderr and "nosuchstack" in bad_served.stderr
        log = _log(server_dir)
        assert log.count(" runs preview ") == 2 and log.count(" ready ") == 1 and " stops" not in log
    finally:
        _stop(REPO_ROOT, server_dir)


def test_a_killed_caller_takes_its_preview_with_it(server_dir, tmp_path):
    # The preview blocks on its first output file (a FIFO nobody reads) until its caller is
    # killed; left running it would go on writing the folder the next preview writes.
    out = tmp_path / "out"
    (out / "dev").mkdir(parents=True)
    os.mkfifo(out / "dev" / "resources.json")
    environment = {**os.environ, "MLOPS_PREVIEW_SERVER": "require", "MLOPS_PREVIEW_SERVER_DIR": str(server_dir)}
    environment.pop("CI", None)
    try:
        caller = subprocess.Popen([sys.executable, "-m", "tools.preview", "dev", "--out", str(out)], cwd=REPO_ROOT,
                                  env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: " runs preview " in _log(server_dir))
        fork = int(_log(server_dir).split(" runs preview ")[1].split(":")[0])
        time.sleep(1)
        assert Path(f"/proc/{fork}").exists() and caller.poll() is None  # blocked, as planned
        caller.kill()
        caller.wait(timeout=30)
        _wait_for(lambda: not Path(f"/proc/{fork}").exists(), seconds=30)  # killed and reaped
    finally:
        # Should a preview still wait on the FIFO, a reader that opens and closes it sets it free.
        with contextlib.suppress(OSError):
            os.close(os.open(out / "dev" / "resources.json", os.O_RDONLY | os.O_NONBLOCK))
        _stop(REPO_ROOT, server_dir)


def test_status_and_stop_see_a_server_that_is_still_starting(server_dir, monkeypatch):
    # Right after the first `make preview` the server it started is still importing the SDKs and
    # not listening yet; `stop` then (or `make clean`) used to find nothing and leave it running
    # until it was idle for 15 minutes, and `status` said none ran.
    monkeypatch.setenv("MLOPS_PREVIEW_SERVER_DIR", str(server_dir))
    monkeypatch.setenv("MLOPS_PREVIEW_SERVER", "require")
    server = preview_server.start_server(dict(os.environ))
    try:
        assert server is not None
        sock_path, lock_path = preview_server._paths()
        _wait_for(lambda: preview_server._locked(lock_path), seconds=30)
        assert preview_server._connect(sock_path) is None  # starting: the lock is held, no answer yet
        status = subprocess.run([sys.executable, "-m", "tools.preview_server", "status"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=60)
        assert status.stdout.startswith("a preview server is starting for")
        stop = subprocess.run([sys.executable, "-m", "tools.preview_server", "stop"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=120)
        assert stop.stdout.strip() == "stopped"
        assert server.wait(timeout=30) == 0
        assert " stops: asked to stop" in _log(server_dir)
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()


def test_an_unusable_server_folder_leaves_the_preview_to_run_here(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # as another user could leave it
    result = run_preview(tmp_path / "out", "dev", env={"MLOPS_PREVIEW_SERVER": "auto",
                                                       "MLOPS_PREVIEW_SERVER_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("tools.preview: no preview server") == 1
    assert "previewing in this process" in result.stderr
    assert (tmp_path / "out" / "dev" / "resources.json").exists()


def test_the_server_puts_back_the_sdk_functions_the_engine_replaced():
    def job() -> int:
        preview_server._warm_up()
        from pulumi.runtime import resource, rpc

        import tools.plain_inputs  # as a fork imports them: afresh
        import tools.plain_rpc
        sdk = (tools.plain_rpc.SDK_SERIALIZE_PROPERTY, tools.plain_rpc.SDK_CONTAINS_UNKNOWNS,
               tools.plain_rpc.SDK_TRANSLATE_OUTPUT_PROPERTIES, rpc.serialize_property,
               tools.plain_inputs.SDK_SERIALIZE_PROPERTIES, tools.plain_inputs.SDK_RESOLVE_OUTPUTS,
               tools.plain_inputs.SDK_DESERIALIZE_PROPERTIES, rpc.serialize_properties, resource._get_stack_trace)
        print(" ".join(f.__module__ for f in sdk))
        return 0

    [outcome] = run_forked([job])
    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.split() == ["pulumi.runtime.rpc"] * 8 + ["pulumi.runtime.resource"]


@pytest.fixture()
def checkout(tmp_path):
    """A copy of this checkout's files (tracked or not ignored), so a test can change its code."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO_ROOT, capture_output=True, check=True).stdout
    copy = tmp_path / "checkout"
    for name in filter(None, files.decode().split("\0")):
        if not (REPO_ROOT / name).is_file():
            continue
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    return copy


def test_the_server_serves_the_checkout_as_it_is_now_and_stops_when_its_code_changes(checkout, server_dir, tmp_path):
    try:
        first = _preview(checkout, server_dir, "dev", "--out", str(tmp_path / "one"))
        assert first.returncode == 0, first.stderr
        servers = [line.split()[2] for line in _log(server_dir).splitlines() if line.endswith(")") and " ready " in line]
        assert len(servers) == 1

        # Project code changed after the server started: the next preview runs the new code.
        summary = checkout / "tools" / "summary.py"
        summary.write_text(summary.read_text() + "\nprint('summary module as edited after the server started')\n")
        edited = _preview(checkout, server_dir, "dev", "--out", str(tmp_path / "two"))
        assert edited.returncode == 0, edited.stderr
        assert "summary module as edited after the server started" in edited.stdout
        assert f"server {servers[0]} runs preview" in _log(server_dir).splitlines()[-1]

        # The server's own code changed: it refuses, stops, and a new server serves the caller.
        warm = checkout / "tools" / "warm.py"
        warm.write_text(warm.read_text() + "\n# edited\n")
        restarted = _preview(checkout, server_dir, "dev", "--out", str(tmp_path / "three"), MLOPS_PREVIEW_SERVER_IDLE="3")
        assert restarted.returncode == 0, restarted.stderr
        log = _log(server_dir)
        assert f"server {servers[0]} stops: a caller's key differs" in log
        newer = [line.split()[2] for line in log.splitlines() if " ready " in line]
        assert len(newer) == 2 and newer[1] != servers[0]
        assert f"server {newer[1]} runs preview" in log.splitlines()[-1]
        _same_tree(tmp_path / "one", tmp_path / "three")

        # Idle for longer than MLOPS_PREVIEW_SERVER_IDLE (3 s): it stops and takes its socket along.
        deadline = time.monotonic() + 30
        while list(server_dir.glob("*.sock")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not list(server_dir.glob("*.sock"))
        assert _log(server_dir).splitlines()[-1].endswith(f"server {newer[1]} stops: idle")
    finally:
        _stop(checkout, server_dir)


def test_no_server_under_ci_or_when_turned_off(monkeypatch):
    monkeypatch.delenv("MLOPS_PREVIEW_SERVER", raising=False)
    monkeypatch.setenv("CI", "true")
    assert preview_server.mode() == "off"
    assert preview_server.run_through_server(["dev"]) is None
    monkeypatch.delenv("CI")
    assert preview_server.mode() == "auto"
    monkeypatch.setenv("MLOPS_PREVIEW_SERVER", "off")
    assert preview_server.mode() == "off"
    monkeypatch.setenv("CI", "1")
    # Asked for by name, a mode holds under CI too (the tests ask for 'auto' and run under CI).
    for asked in ("require", "auto"):
        monkeypatch.setenv("MLOPS_PREVIEW_SERVER", asked)
        assert preview_server.mode() == asked


def test_a_server_folder_others_can_read_is_refused(monkeypatch, tmp_path):
    folder = tmp_path / "servers"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    monkeypatch.setenv("MLOPS_PREVIEW_SERVER_DIR", str(folder))
    with pytest.raises(PermissionError, match="mode 0700"):
        preview_server.server_dir()


def test_the_key_changes_with_the_import_environment_and_not_with_other_variables(monkeypatch):
    key = preview_server.server_key()
    monkeypatch.setenv("MLOPS_MODELS_DIR", "/elsewhere")  # read by the program at run time
    monkeypatch.setenv("PULUMI_CONFIG", '{"aws:region": "eu-west-1"}')  # set by each program run
    assert preview_server.server_key() == key
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")  # changes what an import finds
    assert preview_server.server_key() != key
