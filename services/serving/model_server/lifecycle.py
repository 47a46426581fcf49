"""The model's life in one worker: first load, warm-up, readiness, and following a registry alias.

Readiness stays false until the model is loaded and has answered a warm-up call; a model that
cannot be fetched, opened or warmed up keeps the worker not-ready, with the reason in the logs and
on the readiness endpoints, and the load is retried.

Once serving, a worker whose MODEL_URI names an alias (`models:/recsys@champion`) asks the
registry every MODEL_POLL_SECONDS which version the alias points at. When it moved, the new
version is fetched, opened and warmed up off the event loop while the old one keeps answering;
then one reference assignment swaps the service, so a request runs wholly on the old or wholly on
the new version. A new version that fails to load is counted and logged, and the old one stays.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time

from . import metrics, mlflow_registry, model_source, worker_readiness
from .cache import RecommendationCache, connect
from .errors import ModelLoadError
from .recommender import Recommender
from .service import RecommendationService
from .settings import Settings

log = logging.getLogger(__name__)

UNKNOWN_VERSION = "unknown"


class VersionLoadError(ModelLoadError):
    """A resolved version that could not be fetched, opened or warmed up."""

    def __init__(self, version: str, cause: Exception):
        super().__init__(f"version {version}: {cause}")
        self.version = version


class ModelState:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.service: RecommendationService | None = None
        self.artifact: model_source.ModelArtifact | None = None
        self.problem = "model is loading"
        self._cache: RecommendationCache | None = None

    @property
    def version(self) -> str:
        service = self.service
        return service.version if service is not None else UNKNOWN_VERSION

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

    def properties(self) -> dict[str, str]:
        """What the model metadata reports beyond the protocol's fields (all strings)."""
        artifact, service = self.artifact, self.service
        if artifact is None or service is None:
            return {}
        recommender = service.recommender
        props = {"source": artifact.source, "trained_until": recommender.trained_until,
                 "num_customers": str(recommender.num_customers),
                 "num_items": str(recommender.num_items)}
        if artifact.alias:
            props["alias"] = artifact.alias
            props["served_alias"] = artifact.served_alias
            if artifact.served_alias != artifact.alias:
                props["alias_fallback"] = (f"alias '{artifact.alias}' does not exist; serving "
                                           f"'{artifact.served_alias}'")
        return props

    def _open(self, artifact: model_source.ModelArtifact) -> Recommender:
        started = time.perf_counter()
        recommender = Recommender(artifact.path, threads=self.settings.ort_threads)
        recommender.warm_up(self.settings.default_k)
        log.info(
            "model loaded and warmed up",
            extra={"model": self.settings.model_name, "version": artifact.version,
                   "source": artifact.source, "alias": artifact.alias,
                   "served_alias": artifact.served_alias, "path": str(artifact.path),
                   "num_customers": recommender.num_customers, "num_items": recommender.num_items,
                   "trained_until": recommender.trained_until,
                   "ort_threads": self.settings.ort_threads,
                   "load_seconds": round(time.perf_counter() - started, 3)},
        )
        return recommender

    def _resolve_and_open(self) -> tuple[model_source.ModelArtifact, Recommender]:
        s = self.settings
        artifact = model_source.resolve(s.model_uri, s.mlflow_tracking_uri, s.model_cache_dir,
                                        s.model_fallback_alias, s.mlflow_auth_dir)
        return artifact, self._open(artifact)

    async def _attempt(self) -> tuple[model_source.ModelArtifact, Recommender] | None:
        settings = self.settings
        try:
            # Off the event loop: a large model takes seconds to read, and probes must be answered.
            return await asyncio.to_thread(self._resolve_and_open)
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

    def _publish(self, artifact: model_source.ModelArtifact, recommender: Recommender) -> None:
        name = self.settings.model_name
        previous = self.artifact
        self.service = RecommendationService(recommender, self._cache, name, artifact.version)
        self.artifact = artifact
        if previous is not None:
            metrics.MODEL_INFO.labels(name, previous.version, previous.source, previous.alias,
                                      previous.served_alias).set(0)
        metrics.MODEL_INFO.labels(name, artifact.version, artifact.source, artifact.alias,
                                  artifact.served_alias).set(1)

    async def load(self) -> None:
        """The first load, retried until it works: a registry or S3 hiccup at start heals by
        itself, and a corrupt or missing model keeps the worker out of service (not-ready)."""
        if self.service is not None:
            return
        settings = self.settings
        while (loaded := await self._attempt()) is None:
            await asyncio.sleep(settings.model_load_retry_seconds)
        if settings.cache_enabled and self._cache is None:
            client = connect(settings.redis_host, settings.redis_port, settings.redis_tls,
                             settings.redis_auth_token, settings.cache_timeout_seconds)
            self._cache = RecommendationCache(client, settings.cache_ttl_seconds,
                                              settings.cache_retry_seconds)
        self._publish(*loaded)
        self.problem = ""
        worker_readiness.mark_ready(os.getpid())

    def follows_alias(self) -> bool:
        s = self.settings
        return (model_source.is_registry_uri(s.model_uri) and "@" in s.model_uri
                and s.model_poll_seconds > 0)

    def _refresh(self) -> tuple[model_source.ModelArtifact, Recommender] | None:
        s = self.settings
        current = self.artifact
        found = mlflow_registry.resolve_version(s.model_uri, s.mlflow_tracking_uri, s.model_fallback_alias,
                                                s.mlflow_auth_dir)
        if current is not None and (found.version, found.served_alias) == (current.version,
                                                                            current.served_alias):
            return None
        model = mlflow_registry.locate(found, s.mlflow_tracking_uri, s.mlflow_auth_dir)
        log.info("registry alias moved; loading the new version",
                 extra={"model": s.model_name, "alias": model.alias, "served_alias": model.served_alias,
                        "from_version": current.version if current else None, "to_version": model.version})
        try:
            artifact = model_source.fetch(model, s.model_cache_dir)
            return artifact, self._open(artifact)
        except Exception as exc:
            raise VersionLoadError(model.version, exc) from exc

    async def refresh(self) -> bool:
        """One poll: swap to the alias's version if it moved; True when a swap happened."""
        started = time.perf_counter()
        try:
            loaded = await asyncio.to_thread(self._refresh)
        except Exception as exc:  # registry, S3, ONNX Runtime, warm-up: the old version stays
            version = exc.version if isinstance(exc, VersionLoadError) else UNKNOWN_VERSION
            metrics.MODEL_LOAD_FAILURES.labels(self.settings.model_name, version).inc()
            log.error("new model version failed to load; still serving the previous one",
                      extra={"model": self.settings.model_name, "serving_version": self.version,
                             "error": str(exc) if isinstance(exc, ModelLoadError) else repr(exc)})
            return False
        if loaded is None:
            return False
        previous = self.version
        self._publish(*loaded)
        log.info("model version swapped",
                 extra={"model": self.settings.model_name, "from_version": previous,
                        "to_version": self.version, "served_alias": loaded[0].served_alias,
                        "swap_seconds": round(time.perf_counter() - started, 3)})
        return True

    async def run(self) -> None:
        """Load, then follow the alias for the worker's lifetime (cancelled at shutdown)."""
        await self.load()
        if not self.follows_alias():
            return
        while True:
            await asyncio.sleep(self.settings.model_poll_seconds)
            await self.refresh()

    async def close(self) -> None:
        if self._cache is not None:
            await self._cache.close()
