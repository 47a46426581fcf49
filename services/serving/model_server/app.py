"""HTTP routes: Open Inference Protocol V2, /recommend for people, /metrics for Prometheus."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import metrics, protocol
from . import settings as settings_module
from .errors import ClientError, bad_request, not_found
from .instrumentation import RequestMetrics
from .lifecycle import ModelState
from .service import RecommendationService

log = logging.getLogger(__name__)


def json_response(body, status: int = 200) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    too_large = ClientError(413, f"request body exceeds the limit of {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: settings_module.Settings | None = None) -> Starlette:
    settings = settings or settings_module.load()
    state = ModelState(settings)
    limits = protocol.Limits(settings.default_k, settings.max_k, settings.max_batch_size)

    def serving(name: str) -> RecommendationService:
        if name != settings.model_name:
            raise not_found(f"model '{name}' not found; this server serves '{settings.model_name}'")
        if state.service is None:
            raise ClientError(503, f"model '{name}' is not ready: {state.problem}")
        return state.service

    async def live(request: Request) -> Response:
        return json_response({"live": True})

    def readiness() -> Response:
        # The protocol answers "not ready" with a 4xx; Kubernetes takes any code >= 400 as a fail.
        ready, reason = state.pod_ready()
        if ready:
            return json_response({"ready": True})
        return json_response({"ready": False, "reason": reason}, status=400)

    async def server_ready(request: Request) -> Response:
        return readiness()

    async def model_ready(request: Request) -> Response:
        name = request.path_params["name"]
        if name != settings.model_name:
            raise not_found(f"model '{name}' not found; this server serves '{settings.model_name}'")
        return readiness()

    async def server_metadata(request: Request) -> Response:
        return json_response({"name": "recsys-model-server", "version": "1", "extensions": []})

    async def model_metadata(request: Request) -> Response:
        serving(request.path_params["name"])
        return json_response(protocol.model_metadata(settings.model_name, state.version))

    async def infer(request: Request) -> Response:
        service = serving(request.path_params["name"])
        payload = protocol.parse_json(await read_body(request, settings.max_body_bytes))
        parsed = protocol.parse_infer_request(payload, limits, service.recommender.num_items)
        service.check_users(parsed.user_ids)
        result = await service.recommend(parsed.user_ids, parsed.k)
        return json_response(protocol.infer_response(service.model, service.version, parsed, result))

    async def recommend(request: Request) -> Response:
        service = serving(settings.model_name)
        raw_user = request.path_params["user_id"]
        try:
            user_id = int(raw_user)
        except ValueError:
            raise bad_request(f"user_id must be an integer, got {raw_user!r}") from None
        raw_k = request.query_params.get("k", str(settings.default_k))
        try:
            k = int(raw_k)
        except ValueError:
            raise bad_request(f"k must be an integer, got {raw_k!r}") from None
        k = protocol.parse_k(k, limits, service.recommender.num_items)
        if not 0 <= user_id < service.recommender.num_users:
            raise not_found(f"unknown user {user_id}; this model knows user ids "
                            f"0..{service.recommender.num_users - 1}")
        result = await service.recommend(np.array([user_id], dtype=np.int64), k)
        items = [{"item_id": int(i), "score": float(s)}
                 for i, s in zip(result.item_ids[0], result.scores[0], strict=True)]
        return json_response({"model": service.model, "version": service.version,
                              "user_id": user_id, "k": k, "items": items})

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    async def client_error(request: Request, exc: ClientError) -> Response:
        return json_response({"error": exc.message}, status=exc.status)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return json_response({"error": f"{exc.detail}: {request.method} {request.url.path}"},
                             status=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return json_response({"error": "internal error; see the server log"}, status=500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        loading = asyncio.create_task(state.load())
        log.info("worker started", extra={"model": settings.model_name, "uri": settings.model_uri})
        yield
        loading.cancel()
        await state.close()
        log.info("worker stopped", extra={"model": settings.model_name})

    routes = [
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", server_ready, methods=["GET"]),
        Route("/v2/models/{name}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/recommend/{user_id}", recommend, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestMetrics, state=state)],
        exception_handlers={ClientError: client_error, HTTPException: http_error,
                            Exception: server_error},
        lifespan=lifespan,
    )
    app.state.model = state
    return app
