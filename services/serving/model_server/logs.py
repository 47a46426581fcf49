"""Structured JSON logs on stdout, one object per line, for the platform's log pipeline."""
from __future__ import annotations

import json
import logging
import time

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def config(level: str, access_log: bool) -> dict:
    """A dictConfig for our loggers, gunicorn's and uvicorn's, so no line leaves unstructured."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # The uvicorn worker copies these two loggers' handlers and levels onto uvicorn's own.
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            # Off by default: at thousands of requests a second per pod the access log costs more
            # CPU than the inference; the request metrics carry the same counts.
            "gunicorn.access": {"level": "INFO" if access_log else "WARNING",
                                "handlers": ["stdout"], "propagate": False},
        },
    }
