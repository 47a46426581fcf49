"""The logging configuration gunicorn is given (logs.config), applied with logging.config as
gunicorn applies it: every logger, ours and gunicorn's, writes one JSON object per line to stdout."""
from __future__ import annotations

import io
import json
import logging
import logging.config
from pathlib import Path

import pytest

from model_server import logs


@pytest.fixture
def applied(monkeypatch):
    """Apply a config with stdout captured; the loggers it touches are restored afterwards."""
    names = ("", "gunicorn.error", "gunicorn.access", "model_server.test", "model_server.earlier")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate,
                 logging.getLogger(n).disabled) for n in names}
    stdout = io.StringIO()

    def apply(level: str, access_log: bool) -> io.StringIO:
        monkeypatch.setattr("sys.stdout", stdout)
        logging.config.dictConfig(logs.config(level, access_log))
        return stdout

    yield apply
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate, logger.disabled = handlers, level, propagate, disabled


def lines(stdout: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


def test_every_logger_writes_json_lines_to_stdout(applied):
    earlier = logging.getLogger("model_server.earlier")  # created before gunicorn configures logging
    stdout = applied("INFO", access_log=False)
    earlier.info("still logs")
    logging.getLogger("model_server.test").info("loaded", extra={"version": "7"})
    logging.getLogger("gunicorn.error").info("Booting worker")
    logging.getLogger("gunicorn.access").info("GET / 200")  # off: access_log false
    logging.getLogger("model_server.test").debug("below INFO")
    got = lines(stdout)
    assert [(e["logger"], e["msg"]) for e in got] == [
        ("model_server.earlier", "still logs"), ("model_server.test", "loaded"), ("gunicorn.error", "Booting worker")]
    assert got[1]["version"] == "7" and got[1]["level"] == "info"


def test_access_log_and_debug_when_asked(applied):
    stdout = applied("DEBUG", access_log=True)
    logging.getLogger("gunicorn.access").info("GET / 200")
    logging.getLogger("gunicorn.error").debug("debug line")
    assert [e["msg"] for e in lines(stdout)] == ["GET / 200", "debug line"]  # once each: no propagation to root


def test_warning_level_drops_info(applied):
    stdout = applied("WARNING", access_log=False)
    logging.getLogger("gunicorn.error").info("not shown")
    logging.getLogger("model_server.test").warning("shown")
    assert [e["msg"] for e in lines(stdout)] == ["shown"]


def test_fields_that_are_not_json_are_logged_as_text():
    record = logging.LogRecord("model_server.test", logging.INFO, __file__, 1, "m", None, None)
    record.path = Path("/mnt/models/recsys.onnx")
    assert json.loads(logs.JsonFormatter().format(record))["path"] == "/mnt/models/recsys.onnx"
