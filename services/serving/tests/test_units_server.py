"""The gunicorn configuration the image runs and the JSON log lines, in-process."""
from __future__ import annotations

import json
import logging
import sys

from model_server import logs, settings
from model_server.server import ModelServer


def test_gunicorn_runs_one_worker_per_core_on_the_platform_port():
    s = settings.load({"PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "9100", "CPU_REQUEST": "3", "MODEL_NAME": "ranker"})
    cfg = ModelServer(s).cfg
    assert cfg.bind == ["0.0.0.0:9100"] and cfg.workers == 3
    assert cfg.worker_class_str == "model_server.worker.ModelWorker" and cfg.preload_app is False
    assert cfg.graceful_timeout == s.graceful_timeout_seconds
    # Above the AWS load balancers' 60 s idle timeout: the proxy closes idle connections first.
    assert cfg.keepalive == 75 and cfg.keepalive > 60
    assert (cfg.reuse_port, cfg.backlog, cfg.proc_name) == (True, 2048, "model-server-ranker")
    assert cfg.logconfig_dict == logs.config(s.log_level, s.access_log)


def record(msg, *args, exc_info=None, **extra):
    r = logging.LogRecord("model_server.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    r.created, r.msecs = 0.0, 7.0
    for k, v in extra.items():
        setattr(r, k, v)
    return r


def test_log_lines_are_one_json_object_with_the_extra_fields():
    line = logs.JsonFormatter().format(record("redis %s failed", "read", retry_in_s=1.0))
    entry = json.loads(line)
    assert entry == {"ts": "1970-01-01T00:00:00.007Z", "level": "warning", "logger": "model_server.test",
                     "msg": "redis read failed", "pid": entry["pid"], "retry_in_s": 1.0}
    assert "\n" not in line
    try:
        raise ValueError("boom")
    except ValueError:
        failed = json.loads(logs.JsonFormatter().format(record("x", exc_info=sys.exc_info())))
    assert failed["exc"].startswith("Traceback") and failed["exc"].endswith("ValueError: boom")


def test_access_log_is_off_unless_asked():
    quiet = logs.config("INFO", access_log=False)
    assert quiet["loggers"]["gunicorn.access"]["level"] == "WARNING"
    assert logs.config("DEBUG", access_log=True)["loggers"]["gunicorn.access"]["level"] == "INFO"
    assert quiet["root"] == {"handlers": ["stdout"], "level": "INFO"}
    assert quiet["loggers"]["gunicorn.error"] == {"level": "INFO", "handlers": ["stdout"], "propagate": False}
    assert quiet["handlers"]["stdout"]["stream"] == "ext://sys.stdout"
