"""Runs the Pulumi program itself (infra/__main__.py) under the mock runtime, in this process."""
import concurrent.futures
import contextlib
import json
import logging
import os
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pulumi.log
import pulumi.runtime.resource
import pulumi.runtime.settings
from pulumi.runtime.mocks import MockEngine
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from . import plain_inputs, plain_rpc, resolved_outputs
from .mocks import PlatformMocks
from .recorder import RecordingMonitor
from .stack_files import REPO_ROOT
from .warm import collector_paused

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


SDK_LOG_DEBUG = pulumi.log.debug


def _debug_unless_dropped(msg: str, resource=None, stream_id=None, ephemeral=None) -> None:
    """`pulumi.log.debug`, but nothing at all where the mock engine's logger drops debug lines.

    The SDK logs about four debug lines per registration (110 per model file), each a protobuf
    LogRequest the mock engine hands to the preview's logger, which keeps WARNING and above."""
    engine = pulumi.runtime.settings.get_engine()
    if type(engine) is MockEngine and not engine.logger.isEnabledFor(logging.DEBUG):
        return
    SDK_LOG_DEBUG(msg, resource, stream_id, ephemeral)


pulumi.log.debug = _debug_unless_dropped


# Plain values cross the SDK's conversions in closed form (tools/plain_rpc.py), a resource's
# plain inputs reach the recorder as Python values (tools/plain_inputs.py); outputs whose
# value the SDK already holds are made without a coroutine each (tools/resolved_outputs.py).
plain_rpc.install()
plain_inputs.install()
resolved_outputs.install()


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs what the SDK hands its executor at once, on the event loop's own thread.

    The SDK sends every registration to the monitor through `loop.run_in_executor`, because a
    real monitor is a gRPC server; the mock monitor answers in microseconds, and the hop to a
    pool thread and back (a lock, a future, a wake-up of the loop) with both threads contending
    for the GIL was about a fifth of a program's run (dev with 50 models: 107 -> 83 ms of CPU per
    added model, 2026-11-30). The monitor then sees registrations one at a time, in the order the
    program's coroutines reach them; resources.json is sorted by URN either way.
    asyncio accepts only a ThreadPoolExecutor as the default; no thread is ever started."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, as a pool would
            future.set_exception(exc)
        return future


# Set False (tests/test_preview_output.py does) to run the SDK's stock path: a thread pool
# between program and monitor, the collector on, the SDK's own conversions of every value, its
# coroutine per output, its debug lines and its stack walk. The preview must be byte-identical
# either way.
FAST_PATH = True


def use_sdk_stock_path() -> None:
    """Undoes every shortcut of this engine and the recorder (for the test that compares)."""
    global FAST_PATH
    FAST_PATH = False
    plain_rpc.install(shortcuts=False)
    plain_inputs.install(shortcuts=False)
    resolved_outputs.install(shortcuts=False)
    pulumi.log.debug = SDK_LOG_DEBUG
    if SDK_STACK_TRACE is not None:
        pulumi.runtime.resource._get_stack_trace = SDK_STACK_TRACE


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
    monitor = RecordingMonitor(mocks, sdk_serializer=not FAST_PATH)
    # The program's pulumi.log.warn lines (e.g. "paging is off") reach the reviewer.
    logger = logging.getLogger(f"mlops.preview.{stack}")
    logger.propagate = False
    collect = _Collect()
    logger.addHandler(collect)
    # preview=False: apply() callbacks run and every output is known, as after a real update.
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, logger=logger)
    if FAST_PATH:
        _ensure_event_loop().set_default_executor(_InlineExecutor(max_workers=1))
    plain_inputs.forget_issued()
    # The program run makes hundreds of thousands of long-lived objects (resources, outputs,
    # futures) and little garbage: collections walking them were a third of the run (dev, 200
    # models: 16.6 -> 10.1 s, peak RSS 492 -> 542 MB). A preview process runs one program,
    # renders it and exits.
    try:
        with collector_paused() if FAST_PATH else contextlib.nullcontext():
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    finally:
        if warnings is not None:
            warnings.extend(sorted(set(collect.messages)))
    return monitor.records
