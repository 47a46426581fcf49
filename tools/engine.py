"""Runs the Pulumi program itself (infra/__main__.py) under the mock runtime, in this process."""
import json
import logging
import os
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .mocks import PlatformMocks
from .recorder import RecordingMonitor
from .stack_files import REPO_ROOT

PROJECT = "xyz-mlops"
PROGRAM = REPO_ROOT / "infra" / "__main__.py"


def _no_stack_trace():
    return pulumi.runtime.resource.source_pb2.StackTrace()


# The SDK walks the Python stack at every registration (traceback.extract_stack) to send the
# engine the declaring source line; the mock monitor discards it, and it was about a tenth of a
# stack's program run. An empty trace is what the SDK itself sends when it finds no user frame.
# A private function of pulumi 3.x: if a later SDK drops it, this does nothing.
# tests/test_preview_output.py restores SDK_STACK_TRACE and compares the previews byte for byte.
SDK_STACK_TRACE = getattr(pulumi.runtime.resource, "_get_stack_trace", None)
if SDK_STACK_TRACE is not None:
    pulumi.runtime.resource._get_stack_trace = _no_stack_trace


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(stack: str, config: dict[str, str], warnings: list[str] | None = None,
                program: Path = PROGRAM) -> list[dict[str, Any]]:
    """Declares the stack's resources exactly as `pulumi up` would and returns their registrations.
    `program` is this checkout's infra/__main__.py unless the diff previews another checkout.
    Raises SystemExit(2) with the config errors printed when the stack config is invalid."""
    os.environ["PULUMI_CONFIG"] = json.dumps(config, sort_keys=True)
    mocks = PlatformMocks(region=config.get("aws:region", "us-east-1"))
    monitor = RecordingMonitor(mocks)
    # The program's pulumi.log.warn lines (e.g. "paging is off") reach the reviewer.
    logger = logging.getLogger(f"mlops.preview.{stack}")
    logger.propagate = False
    collect = _Collect()
    logger.addHandler(collect)
    # preview=False: apply() callbacks run and every output is known, as after a real update.
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, logger=logger)
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    finally:
        if warnings is not None:
            warnings.extend(sorted(set(collect.messages)))
    return monitor.records
