"""Runs the Pulumi program itself (infra/__main__.py) under the mock runtime, in this process."""
import json
import os
import runpy
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .mocks import PlatformMocks
from .recorder import RecordingMonitor
from .stack_files import REPO_ROOT

PROJECT = "xyz-mlops"
PROGRAM = REPO_ROOT / "infra" / "__main__.py"


def run_program(stack: str, config: dict[str, str]) -> list[dict[str, Any]]:
    """Declares the stack's resources exactly as `pulumi up` would and returns their registrations.
    Raises SystemExit(2) with the config errors printed when the stack config is invalid."""
    os.environ["PULUMI_CONFIG"] = json.dumps(config, sort_keys=True)
    mocks = PlatformMocks(region=config.get("aws:region", "us-east-1"))
    monitor = RecordingMonitor(mocks)
    # preview=False: apply() callbacks run and every output is known, as after a real update.
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))
    return monitor.records
