"""The ONNX recommender: user and item factors, scores, top-K, all inside one ONNX graph.

The graph's contract (tools/build_recsys_model.py builds one):
  inputs   user_id INT64 [batch], k INT64 [1]
  outputs  item_ids INT64 [batch, k], scores FLOAT [batch, k]
  metadata num_users, num_items (user ids are 0 .. num_users-1)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import ModelLoadError

INPUTS = {"user_id": "tensor(int64)", "k": "tensor(int64)"}
OUTPUTS = ("item_ids", "scores")


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    # Latency over throughput per call: a single user's top-K is a few hundred microseconds of
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
    item_ids: np.ndarray  # int64 [batch, k]
    scores: np.ndarray  # float32 [batch, k]


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
        try:
            self.num_users = int(meta["num_users"])
            self.num_items = int(meta["num_items"])
        except (KeyError, ValueError) as exc:
            raise ModelLoadError(f"model metadata lacks num_users/num_items: {meta}") from exc

    def _check_signature(self) -> None:
        inputs = {i.name: i.type for i in self._session.get_inputs()}
        outputs = [o.name for o in self._session.get_outputs()]
        if inputs != INPUTS or sorted(outputs) != sorted(OUTPUTS):
            raise ModelLoadError(
                f"model signature is inputs {inputs} outputs {outputs}; "
                f"expected inputs {INPUTS} outputs {list(OUTPUTS)}"
            )

    def unknown_users(self, user_ids: np.ndarray) -> list[int]:
        outside = (user_ids < 0) | (user_ids >= self.num_users)
        return user_ids[outside].tolist()

    def recommend(self, user_ids: np.ndarray, k: int) -> tuple[Recommendation, float]:
        """Top-k for known users; returns the result and the seconds spent in ONNX Runtime."""
        started = time.perf_counter()
        item_ids, scores = self._session.run(
            list(OUTPUTS), {"user_id": user_ids, "k": np.array([k], dtype=np.int64)}
        )
        elapsed = time.perf_counter() - started
        return Recommendation(item_ids=item_ids, scores=scores), elapsed

    def warm_up(self, k: int) -> None:
        """One real call, so the first user does not pay for ORT's lazy allocations."""
        k = min(k, self.num_items)
        result, _ = self.recommend(np.zeros(1, dtype=np.int64), k)
        if result.item_ids.shape != (1, k) or result.scores.shape != (1, k):
            raise ModelLoadError(
                f"warm-up returned shapes {result.item_ids.shape} and {result.scores.shape}, "
                f"expected (1, {k})"
            )
        if not np.isfinite(result.scores).all():
            raise ModelLoadError("warm-up returned non-finite scores")
