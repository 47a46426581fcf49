"""Request count and duration for every HTTP request, labelled by templated route.

A pure ASGI wrapper rather than a Starlette BaseHTTPMiddleware: it adds no task per request, and
it sees the status of every response, error handlers' included.
"""
from __future__ import annotations

import time

from . import metrics
from .lifecycle import ModelState

# Paths no route matched share one label, so a scanner cannot explode the series count.
UNMATCHED = "unmatched"


class RequestMetrics:
    def __init__(self, app, state: ModelState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before starting a response

        async def send_recording_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            # The version that answered (set by the route), not the one current at the end: an
            # alias swap during the request must not relabel it.
            version = scope.get("state", {}).get("model_version") or self.state.version
            model = self.state.settings.model_name
            metrics.REQUESTS.labels(route, scope["method"], str(status), model, version).inc()
            metrics.REQUEST_DURATION.labels(route, model, version).observe(
                time.perf_counter() - started
            )
