"""The SDK's own coroutines and conversions, for tests that compare the preview's shortcuts
(tools/plain_rpc.py, tools/plain_inputs.py) with them."""
import asyncio
from typing import Any, Coroutine

from pulumi.runtime import rpc

from tools import plain_inputs, plain_rpc


def run_on_own_loop(coroutine: Coroutine) -> Any:
    """The coroutine's result (or its exception). Not asyncio.run: that unsets the thread's event
    loop, which the programs later tests run in this process (or fork from it) inherit."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def stock_rpc(name: str, *args: Any) -> Any:
    """`pulumi.runtime.rpc.<name>(*args)` (a coroutine run to its end) with the SDK's own
    conversions throughout: the SDK's functions call each other through that module, where
    tools.engine's import put the shortcuts, which are put back afterwards."""
    plain_rpc.install(shortcuts=False)
    plain_inputs.install(shortcuts=False)
    try:
        result = getattr(rpc, name)(*args)
        return run_on_own_loop(result) if asyncio.iscoroutine(result) else result
    finally:
        plain_rpc.install()
        plain_inputs.install()
