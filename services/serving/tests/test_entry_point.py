"""`python -m model_server` in this process, up to the gunicorn arbiter (whose run() would take the
process over): settings refused with one line and exit 2, fresh metrics and worker-state
directories, and the master's hooks that forget a dead worker and clean up at exit."""
from __future__ import annotations

import os
import types

import pytest

from model_server import __main__ as entry_point
from model_server import worker_readiness
from model_server.server import ModelServer, _child_exit, _on_exit


@pytest.fixture
def started(monkeypatch, tmp_path):
    """ModelServer.run records the server instead of starting gunicorn's arbiter."""
    runs: list[ModelServer] = []
    monkeypatch.setattr(ModelServer, "run", lambda self: runs.append(self))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv(worker_readiness.ENV, "unset-by-the-test")  # restored after the test
    return runs


def test_a_bad_setting_is_one_line_and_exit_2(started, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WORKERS", "zero")
    with pytest.raises(SystemExit) as exit_:
        entry_point.main()
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "model server: WORKERS='zero': expected a whole number of at least 1\n")
    assert started == [] and not (tmp_path / "metrics").exists()  # refused before anything starts


def test_main_starts_gunicorn_with_the_environment_and_fresh_directories(started, monkeypatch, tmp_path):
    stale = tmp_path / "metrics" / "counter_1234.db"
    stale.parent.mkdir()
    stale.write_bytes(b"a previous run's counters")
    monkeypatch.setenv("WORKERS", "3")
    monkeypatch.setenv("MODEL_NAME", "ranker")
    entry_point.main()
    assert len(started) == 1
    assert (started[0].settings.workers, started[0].settings.model_name) == (3, "ranker")
    assert started[0].cfg.workers == 3
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    assert list((tmp_path / "metrics").iterdir()) == []  # emptied: old files would add to the counters
    state_dir = os.environ[worker_readiness.ENV]
    assert os.path.basename(state_dir).startswith("model-server-workers-") and os.listdir(state_dir) == []
    os.rmdir(state_dir)


def test_without_a_metrics_dir_a_fresh_one_is_made(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    try:
        path = entry_point._fresh_metrics_dir()
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path
        assert os.path.basename(path).startswith("model-server-metrics-") and os.listdir(path) == []
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        os.rmdir(path)


def test_a_dead_worker_is_no_longer_counted_ready_nor_live_in_the_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv(worker_readiness.ENV, str(tmp_path))
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    for pid in (41, 42):
        worker_readiness.mark_ready(pid)
        # prometheus_client's multiprocess files: a live gauge per worker, and a counter that stays.
        (metrics_dir / f"gauge_livemax_{pid}.db").write_bytes(b"")
        (metrics_dir / f"counter_{pid}.db").write_bytes(b"")
    _child_exit(None, types.SimpleNamespace(pid=41))
    assert sorted(p.name for p in tmp_path.glob("ready-*")) == ["ready-42"]
    assert sorted(p.name for p in metrics_dir.iterdir()) == [
        "counter_41.db", "counter_42.db", "gauge_livemax_42.db"]


def test_a_metrics_dir_that_does_not_exist_yet_is_made(started, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "not-yet" / "metrics"))
    entry_point.main()
    assert len(started) == 1 and (tmp_path / "not-yet" / "metrics").is_dir()
    os.rmdir(os.environ[worker_readiness.ENV])


def test_the_master_removes_the_worker_state_dir_at_exit(tmp_path, monkeypatch):
    state_dir = tmp_path / "workers"
    state_dir.mkdir()
    (state_dir / "ready-1").touch()
    monkeypatch.setenv(worker_readiness.ENV, str(state_dir))
    _on_exit(None)
    assert not state_dir.exists()
    _on_exit(None)  # removed already (a second exit hook): no error
    monkeypatch.delenv(worker_readiness.ENV)
    _on_exit(None)  # outside the entry point: nothing to remove, no error
    assert tmp_path.exists()


def test_each_worker_builds_its_app_from_the_settings(model_path):
    from model_server import settings

    app = ModelServer(settings.load({"MODEL_URI": str(model_path), "MODEL_NAME": "ranker"})).load()
    assert app.state.model.settings.model_name == "ranker"
    assert app.state.model.ready is False  # loaded later, in the worker's lifespan


def test_gunicorn_gets_the_access_log_setting_and_no_control_socket():
    from model_server import settings

    cfg = ModelServer(settings.load({"ACCESS_LOG": "true", "LOG_LEVEL": "debug"})).cfg
    assert cfg.logconfig_dict["loggers"]["gunicorn.access"]["level"] == "INFO"
    assert cfg.logconfig_dict["root"]["level"] == "DEBUG"
    # The runtime control socket wants a writable home the non-root image does not give it.
    assert cfg.control_socket_disable is True
