"""MLServer 1.7.1 custom runtime doing exactly what our server does per request.

It calls the same RecommendationService (same ONNX session options, same Redis cache-aside), so
the benchmark measures the two HTTP/serving stacks, not two implementations of the work.
"""
from __future__ import annotations

import os

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse

from model_server.cache import RecommendationCache, connect
from model_server.recommender import Recommender
from model_server.service import RecommendationService


class RecsysRuntime(MLModel):
    async def load(self) -> bool:
        parameters = self.settings.parameters
        recommender = Recommender(parameters.uri, threads=int(os.environ.get("ORT_THREADS", "1")))
        recommender.warm_up(10)
        cache = None
        if os.environ.get("REDIS_HOST"):
            client = connect(os.environ["REDIS_HOST"], int(os.environ.get("REDIS_PORT", "6379")),
                             False, None, float(os.environ.get("CACHE_TIMEOUT_SECONDS", "0.05")))
            cache = RecommendationCache(client, int(os.environ.get("CACHE_TTL_SECONDS", "3600")), 1.0)
        self._service = RecommendationService(recommender, cache, self.name, parameters.version)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        customer_ids = np.array(StringCodec.decode_input(payload.inputs[0]), dtype=object).reshape(-1)
        k = int(getattr(payload.parameters, "k", 10) or 10)
        result = await self._service.recommend(customer_ids, k)
        return InferenceResponse(
            model_name=self.name,
            model_version=self._service.version,
            outputs=[StringCodec.encode_output("skus", result.skus.ravel().tolist()),
                     NumpyCodec.encode_output("scores", result.scores),
                     NumpyCodec.encode_output("is_fallback", result.is_fallback)],
        )
