"""The SDK's own coroutines and conversions, for tests that compare the preview's shortcuts
(tools/plain_rpc.py, tools/plain_inputs.py) with them."""
import asyncio
import contextlib
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


@contextlib.contextmanager
def sdk_functions():
    """The SDK's own conversions in `pulumi.runtime.rpc` for the block (the SDK's functions call
    each other through that module, where tools.engine's import put the shortcuts), the
    shortcuts back after it."""
    plain_rpc.install(shortcuts=False)
    plain_inputs.install(shortcuts=False)
    try:
        yield
    finally:
        plain_rpc.install()
        plain_inputs.install()


def stock_rpc(name: str, *args: Any) -> Any:
    """`pulumi.runtime.rpc.<name>(*args)` (a coroutine run to its end) with the SDK's own
    conversions throughout."""
    with sdk_functions():
        result = getattr(rpc, name)(*args)
        return run_on_own_loop(result) if asyncio.iscoroutine(result) else result


def typed(value: Any) -> Any:
    """Values with their types and maps sorted: 3 == 3.0 in Python, and the SDK reads every
    number back as a float; a map read from a Struct comes in the Struct's own key order."""
    if isinstance(value, dict):
        return ("map", sorted((k, typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, repr(value))


def camel(name: str) -> str:
    """snake_case -> camelCase, a resource's input name translation for the tests."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
