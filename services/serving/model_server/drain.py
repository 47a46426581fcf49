"""Headers every response carries: the model version that answered it, and `Connection: close`
while the worker drains after SIGTERM.

Closing an idle keep-alive connection races with a client that is sending on it (the client sees
a reset). During the drain window (DRAIN_SECONDS, server.DrainingServer) the worker still answers,
and every answer tells the client to close the connection itself, after reading it; only the
connections still idle at the end are closed by the server.
"""
from __future__ import annotations

from .lifecycle import ModelState

VERSION_HEADER = b"x-model-version"
_draining = False


def begin() -> None:
    global _draining
    _draining = True


def draining() -> bool:
    return _draining


class ResponseHeaders:
    def __init__(self, app, state: ModelState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                version = scope.get("state", {}).get("model_version") or self.state.version
                headers = [*message.get("headers", ()), (VERSION_HEADER, version.encode())]
                if _draining:
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
