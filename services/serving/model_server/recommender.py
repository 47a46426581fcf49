"""The ONNX recommender: id mapping, factors, scores, top-K and popularity fallback in one graph.

The graph's contract (the pipeline's `export` writes it; tools/build_recsys_model.py builds one):
  inputs   customer_id STRING [batch] (the shop's ids), k INT64 [1]
  outputs  skus STRING [batch, k], scores FLOAT [batch, k], is_fallback BOOL [batch]
  metadata model_name, num_customers, num_items, trained_until
A customer the model never saw is not an error: it gets the popularity ranking, is_fallback true.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import ModelLoadError

INPUTS = {"customer_id": "tensor(string)", "k": "tensor(int64)"}
OUTPUTS = {"skus": "tensor(string)", "scores": "tensor(float)", "is_fallback": "tensor(bool)"}
METADATA = ("model_name", "num_customers", "num_items", "trained_until")
# An id no shop issues (the lake contract's ids are ^C[0-9]{9}$): the warm-up exercises the fallback.
WARM_UP_CUSTOMER = "warm-up"


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    # Latency over throughput per call: a single customer's top-K is a few hundred microseconds of
    # work, and each worker process already owns its share of the pod's cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads would burn the CPU the other workers and the event loop need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


@dataclass
class Recommendation:
    skus: np.ndarray  # object (str) [batch, k]
    scores: np.ndarray  # float32 [batch, k]
    is_fallback: np.ndarray  # bool [batch]


class Recommender:
    def __init__(self, path: Path, threads: int = 1):
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/NoSuchFile types
            raise ModelLoadError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        self._check_signature()
        meta = self._session.get_modelmeta().custom_metadata_map
        missing = [key for key in METADATA if key not in meta]
        if missing:
            raise ModelLoadError(f"model metadata lacks {missing}; has {sorted(meta)}")
        try:
            self.num_customers = int(meta["num_customers"])
            self.num_items = int(meta["num_items"])
        except ValueError as exc:
            raise ModelLoadError(f"model metadata num_customers/num_items not integers: {meta}") from exc
        if self.num_items < 1:
            raise ModelLoadError(f"model metadata num_items is {self.num_items}; needs at least 1 item")
        self.model_name = meta["model_name"]
        self.trained_until = meta["trained_until"]

    def _check_signature(self) -> None:
        inputs = {i.name: i.type for i in self._session.get_inputs()}
        outputs = {o.name: o.type for o in self._session.get_outputs()}
        if inputs != INPUTS or outputs != OUTPUTS:
            raise ModelLoadError(
                f"model signature is inputs {inputs} outputs {outputs}; "
                f"expected inputs {INPUTS} outputs {OUTPUTS}"
            )

    def recommend(self, customer_ids: np.ndarray, k: int) -> tuple[Recommendation, float]:
        """Top-k SKUs per customer id (object array [batch]); the result and ONNX Runtime seconds."""
        started = time.perf_counter()
        skus, scores, is_fallback = self._session.run(
            list(OUTPUTS), {"customer_id": customer_ids, "k": np.array([k], dtype=np.int64)}
        )
        elapsed = time.perf_counter() - started
        return Recommendation(skus=skus, scores=scores, is_fallback=is_fallback), elapsed

    def warm_up(self, k: int) -> None:
        """One real call, so the first customer does not pay for ORT's lazy allocations."""
        k = min(k, self.num_items)
        result, _ = self.recommend(np.array([WARM_UP_CUSTOMER], dtype=object), k)
        if result.skus.shape != (1, k) or result.scores.shape != (1, k) or result.is_fallback.shape != (1,):
            raise ModelLoadError(
                f"warm-up returned shapes {result.skus.shape}, {result.scores.shape} and "
                f"{result.is_fallback.shape}, expected (1, {k}), (1, {k}) and (1,)"
            )
        if not np.isfinite(result.scores).all():
            raise ModelLoadError("warm-up returned non-finite scores")
        if not result.is_fallback[0]:
            raise ModelLoadError(f"warm-up id {WARM_UP_CUSTOMER!r} was not marked is_fallback; "
                                 "the model must give unseen customers the popularity ranking")
