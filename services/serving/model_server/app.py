"""HTTP routes: Open Inference Protocol V2 (plain and versioned), /recommend for people, /metrics."""
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
from .drain import ResponseHeaders
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

    def check_name(request: Request) -> None:
        name = request.path_params.get("name", settings.model_name)
        if name != settings.model_name:
            raise not_found(f"model '{name}' not found; this server serves '{settings.model_name}'")

    def serving(request: Request) -> RecommendationService:
        """The service of this request's model (and version, on versioned routes)."""
        check_name(request)
        service = state.service  # one read: a swap during the request does not change it
        if service is None:
            raise ClientError(503, f"model '{settings.model_name}' is not ready: {state.problem}")
        wanted = request.path_params.get("version")
        if wanted is not None and wanted != service.version:
            raise not_found(f"model '{settings.model_name}' version '{wanted}' not found; "
                            f"this server serves version '{service.version}'")
        request.state.model_version = service.version
        return service

    async def live(request: Request) -> Response:
        return json_response({"live": True})

    def readiness(name: str | None = None) -> Response:
        # The protocol answers "not ready" with a 4xx; Kubernetes takes any code >= 400 as a fail.
        ready, reason = state.pod_ready()
        body = {"name": name} if name else {}
        if ready:
            return json_response({**body, "ready": True})
        return json_response({**body, "ready": False, "reason": reason}, status=400)

    async def server_ready(request: Request) -> Response:
        return readiness()

    async def model_ready(request: Request) -> Response:
        check_name(request)
        if "version" in request.path_params and state.service is not None:
            serving(request)
        return readiness(settings.model_name)

    async def server_metadata(request: Request) -> Response:
        return json_response({"name": "recsys-model-server", "version": "2",
                              "extensions": [protocol.BINARY_EXTENSION]})

    async def model_metadata(request: Request) -> Response:
        service = serving(request)
        return json_response(protocol.model_metadata(settings.model_name, service.version,
                                                     state.properties()))

    async def infer(request: Request) -> Response:
        service = serving(request)
        parsed = protocol.parse_infer_request(
            await read_body(request, settings.max_body_bytes),
            request.headers.get(protocol.BINARY_HEADER), limits, service.recommender.num_items)
        result = await service.recommend(parsed.customer_ids, parsed.k)
        body, header_length = protocol.infer_response(service.model, service.version, parsed, result)
        if header_length is None:
            return json_response(body)
        return Response(body, media_type="application/octet-stream",
                        headers={protocol.BINARY_HEADER: str(header_length)})

    async def recommend(request: Request) -> Response:
        service = serving(request)
        customer_id = request.path_params["customer_id"]
        if len(customer_id) > protocol.MAX_ID_LENGTH:
            raise bad_request(f"customer_id has {len(customer_id)} characters; at most "
                              f"{protocol.MAX_ID_LENGTH} allowed")
        raw_k = request.query_params.get("k", str(settings.default_k))
        try:
            k = int(raw_k)
        except ValueError:
            raise bad_request(f"k must be an integer, got {raw_k!r}") from None
        k = protocol.parse_k(k, limits, service.recommender.num_items)
        result = await service.recommend(np.array([customer_id], dtype=object), k)
        items = [{"sku": sku, "score": float(score)}
                 for sku, score in zip(result.skus[0].tolist(), result.scores[0].tolist(), strict=True)]
        return json_response({"model": service.model, "version": service.version,
                              "customer_id": customer_id, "k": k,
                              "is_fallback": bool(result.is_fallback[0]), "items": items})

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    async def client_error(request: Request, exc: ClientError) -> Response:
        return json_response({"error": exc.message}, status=exc.status)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        # exc.headers carries `Allow` on a 405, which HTTP requires there.
        response = json_response({"error": f"{exc.detail}: {request.method} {request.url.path}"},
                                 status=exc.status_code)
        response.headers.update(exc.headers or {})
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return json_response({"error": "internal error; see the server log"}, status=500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # Loaded already when the worker loaded before listening (server.ModelWorker); then this
        # only follows the alias.
        running = asyncio.create_task(state.run())
        log.info("worker started", extra={"model": settings.model_name, "uri": settings.model_uri})
        yield
        running.cancel()
        await state.close()
        log.info("worker stopped", extra={"model": settings.model_name})

    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", server_ready, methods=["GET"]),
        *(route for prefix in (model, versioned) for route in (
            Route(prefix, model_metadata, methods=["GET"]),
            Route(prefix + "/ready", model_ready, methods=["GET"]),
            Route(prefix + "/infer", infer, methods=["POST"]),
        )),
        Route("/recommend/{customer_id}", recommend, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestMetrics, state=state), Middleware(ResponseHeaders, state=state)],
        exception_handlers={ClientError: client_error, HTTPException: http_error,
                            Exception: server_error},
        lifespan=lifespan,
    )
    app.state.model = state
    return app
