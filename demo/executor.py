"""The local stand-in for the Seldon executor: splits traffic between the stable and the canary
model server and exports the executor's request histogram, so the canary alerts and the release
controller read the same series locally as in the cluster.

Runs in the serving image's venv (starlette, uvicorn, aiohttp, prometheus_client):
  python -m demo.executor --port P --stable URL --canary URL --canary-percent 10 --deployment recsys

In the cluster Istio splits by weight between two predictors and each predictor's executor
counts its own requests; here one process does both, choosing the predictor per request at the
model file's canary share. The series name, labels and buckets are imported from the metric
contract: `seldon_api_executor_server_requests_seconds{deployment_name, predictor_name,
predictor_version, method, code}`; `namespace` is added by the scrape, as in the cluster.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import uvicorn  # noqa: E402
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from observability.metrics_contract import CONTRACT, EXECUTOR_BUCKETS  # noqa: E402
from observability.release_queries import EXECUTOR  # noqa: E402

# The contract's labels less `le` (the histogram adds it).
LABELS = next(m.labels for m in CONTRACT if m.name == EXECUTOR)[:-1]
STABLE, CANARY = "stable", "canary"


def build_app(stable: str, canary: str, canary_percent: float, deployment: str, seed: int | None = None) -> Starlette:
    """An ASGI app forwarding every request to one predictor and counting it in the executor histogram."""
    registry = CollectorRegistry()
    # prometheus_client appends _count/_sum/_bucket to this base name, like the executor's Go client.
    histogram = Histogram(EXECUTOR, "requests to the executor, with latency (local stand-in)", LABELS,
                          buckets=EXECUTOR_BUCKETS, registry=registry)
    upstreams = {STABLE: stable.rstrip("/"), CANARY: canary.rstrip("/")}
    chooser = random.Random(seed)
    # aiohttp, not httpx: forwarding the demo's traffic cost 0.9 ms of CPU per request with
    # aiohttp and 2.5-3.5 ms with httpx's AsyncClient (3,000 requests to a stub model server,
    # 2026-11-30), CPU the demo's model servers need during a canary window judged on its p99.

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def forward(request: Request) -> Response:
        predictor = CANARY if chooser.random() * 100 < canary_percent else STABLE
        body = await request.body()
        started = time.perf_counter()
        version = ""
        try:
            async with request.state.session.request(
                    request.method, upstreams[predictor] + request.url.path,
                    params=list(request.query_params.multi_items()), data=body,
                    headers={"content-type": request.headers.get("content-type", "")}) as upstream:
                status, content, media = upstream.status, await upstream.read(), upstream.headers.get("content-type")
            version = _served_version(content) if status == 200 else ""
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # the model server is down: 503
            status, content, media = 503, f'{{"error": "{type(exc).__name__}"}}'.encode(), "application/json"
        histogram.labels(deployment_name=deployment, predictor_name=predictor, predictor_version=version,
                         method=request.method, code=str(status)).observe(time.perf_counter() - started)
        return Response(content, status_code=status, media_type=media, headers={"x-predictor": predictor})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # A session belongs to an event loop: made here, on the server's; each request sees it
        # in its state (Starlette's lifespan state).
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10.0),
                                         connector=aiohttp.TCPConnector(limit=64)) as session:
            yield {"session": session}

    return Starlette(routes=[Route("/prometheus", metrics, methods=["GET"]),
                             Route("/{path:path}", forward, methods=["GET", "POST"])],
                     lifespan=lifespan)


def _served_version(content: bytes) -> str:
    # The model server names the version it served in every response body (`model_version`).
    try:
        return str(json.loads(content).get("model_version", ""))
    except (ValueError, AttributeError):
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.executor", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stable", required=True)
    parser.add_argument("--canary", required=True)
    parser.add_argument("--canary-percent", type=float, required=True)
    parser.add_argument("--deployment", required=True)
    args = parser.parse_args()
    if not 0 <= args.canary_percent <= 100:
        parser.exit(2, f"--canary-percent must be 0..100 (got {args.canary_percent:g})\n")
    app = build_app(args.stable, args.canary, args.canary_percent, args.deployment)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
