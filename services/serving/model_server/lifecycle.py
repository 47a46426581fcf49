"""The model's life in one worker: loading in the background, warm-up, and the ready flag.

The HTTP server answers from the first second (liveness), but readiness stays false until the
model is loaded and has answered a warm-up call; a model that cannot be fetched, opened or
warmed up keeps the pod not-ready, with the reason in the logs and on the readiness endpoints.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time

from . import metrics, model_source, worker_readiness
from .cache import RecommendationCache, connect
from .errors import ModelLoadError
from .recommender import Recommender
from .service import RecommendationService
from .settings import Settings

log = logging.getLogger(__name__)

UNKNOWN_VERSION = "unknown"


class ModelState:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.service: RecommendationService | None = None
        self.version = UNKNOWN_VERSION
        self.problem = "model is loading"

    @property
    def ready(self) -> bool:
        return self.service is not None

    def pod_ready(self) -> tuple[bool, str]:
        """This worker serves, and so does every sibling (see worker_readiness)."""
        if self.service is None:
            return False, self.problem
        ready = worker_readiness.ready_workers()
        if ready is not None and ready < self.settings.workers:
            return False, f"{ready} of {self.settings.workers} workers have loaded the model"
        return True, ""

    def _load(self) -> tuple[model_source.ModelArtifact, Recommender]:
        started = time.perf_counter()
        artifact = model_source.resolve(
            self.settings.model_uri, self.settings.mlflow_tracking_uri, self.settings.model_cache_dir
        )
        recommender = Recommender(artifact.path, threads=self.settings.ort_threads)
        recommender.warm_up(self.settings.default_k)
        log.info(
            "model loaded and warmed up",
            extra={"model": self.settings.model_name, "version": artifact.version,
                   "source": artifact.source, "path": str(artifact.path),
                   "num_users": recommender.num_users, "num_items": recommender.num_items,
                   "ort_threads": self.settings.ort_threads,
                   "load_seconds": round(time.perf_counter() - started, 3)},
        )
        return artifact, recommender

    async def _attempt(self) -> tuple[model_source.ModelArtifact, Recommender] | None:
        settings = self.settings
        try:
            # Off the event loop: a large model takes seconds to read, and probes must be answered.
            return await asyncio.to_thread(self._load)
        except ModelLoadError as exc:
            self.problem = f"model failed to load: {exc}"
            log.error("model failed to load; staying not-ready",
                      extra={"model": settings.model_name, "uri": settings.model_uri,
                             "error": str(exc), "retry_in_s": settings.model_load_retry_seconds})
        except Exception as exc:  # anything unforeseen still must not leave a half-ready pod
            self.problem = f"model failed to load: {exc!r}"
            log.exception("model failed to load; staying not-ready",
                          extra={"model": settings.model_name, "uri": settings.model_uri,
                                 "retry_in_s": settings.model_load_retry_seconds})
        return None

    async def load(self) -> None:
        settings = self.settings
        # Retried until it works: a registry or S3 hiccup at start heals by itself, and a corrupt
        # or missing model keeps the pod out of the Service (not-ready) rather than serving.
        while (loaded := await self._attempt()) is None:
            await asyncio.sleep(settings.model_load_retry_seconds)
        artifact, recommender = loaded
        cache = None
        if settings.cache_enabled:
            client = connect(settings.redis_host, settings.redis_port, settings.redis_tls,
                             settings.redis_auth_token, settings.cache_timeout_seconds)
            cache = RecommendationCache(client, settings.cache_ttl_seconds, settings.cache_retry_seconds)
        self.version = artifact.version
        metrics.MODEL_INFO.labels(settings.model_name, artifact.version, artifact.source).set(1)
        self.service = RecommendationService(recommender, cache, settings.model_name, artifact.version)
        self.problem = ""
        worker_readiness.mark_ready(os.getpid())

    async def close(self) -> None:
        if self.service is not None and self.service.cache is not None:
            await self.service.cache.close()
