"""The ONNX artifact the serving image loads, with the shop's ids inside the graph.

Contract (shared with services/serving):
  inputs   customer_id tensor(string) [batch], k tensor(int64) [1]
  outputs  skus tensor(string) [batch, k], scores tensor(float) [batch, k],
           is_fallback tensor(bool) [batch] (customer not seen in training: popularity ranking)
  metadata model_name, num_customers, num_items, trained_until (ISO date)
Graph: LabelEncoder (ai.onnx.ml) customer_id -> row, -1 when unseen; Gather the factors;
MatMul + bias; unseen rows take the popularity scores (Where); TopK with k capped at the
catalogue size; Gather on a string initializer turns item rows into SKUs.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .trainer import TrainedModel

OPSET = 17
ML_OPSET = 3  # LabelEncoder with default_int64 and string keys
INPUTS = {"customer_id": "tensor(string)", "k": "tensor(int64)"}
OUTPUTS = {"skus": "tensor(string)", "scores": "tensor(float)", "is_fallback": "tensor(bool)"}


def build(model: TrainedModel, model_name: str) -> onnx.ModelProto:
    f = model.factors
    n_items = len(model.skus)
    init = [
        numpy_helper.from_array(f.users.astype(np.float32), "user_factors"),
        numpy_helper.from_array(np.ascontiguousarray(f.items.T.astype(np.float32)), "item_factors_t"),
        numpy_helper.from_array(f.item_bias.astype(np.float32), "item_bias"),
        numpy_helper.from_array(model.popularity_scores()[None, :], "popularity"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([n_items], dtype=np.int64), "num_items"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        helper.make_tensor("skus_table", TensorProto.STRING, [n_items], [s.encode() for s in model.skus]),
    ]
    nodes = [
        helper.make_node("LabelEncoder", ["customer_id"], ["row"], domain="ai.onnx.ml",
                         keys_strings=[c for c in model.customer_ids], values_int64s=list(range(len(model.customer_ids))),
                         default_int64=-1),
        helper.make_node("Less", ["row", "zero"], ["is_fallback"]),
        helper.make_node("Max", ["row", "zero"], ["safe_row"]),
        helper.make_node("Gather", ["user_factors", "safe_row"], ["user_vectors"], axis=0),
        helper.make_node("MatMul", ["user_vectors", "item_factors_t"], ["dot"]),
        helper.make_node("Add", ["dot", "item_bias"], ["mf_scores"]),
        helper.make_node("Unsqueeze", ["is_fallback", "one"], ["fallback_column"]),
        helper.make_node("Where", ["fallback_column", "popularity", "mf_scores"], ["all_scores"]),
        helper.make_node("Min", ["k", "num_items"], ["k_capped"]),
        helper.make_node("TopK", ["all_scores", "k_capped"], ["scores", "top_rows"], axis=1, largest=1, sorted=1),
        helper.make_node("Gather", ["skus_table", "top_rows"], ["skus"], axis=0),
    ]
    graph = helper.make_graph(
        nodes, "recommender",
        [helper.make_tensor_value_info("customer_id", TensorProto.STRING, ["batch"]),
         helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("skus", TensorProto.STRING, ["batch", "k"]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "k"]),
         helper.make_tensor_value_info("is_fallback", TensorProto.BOOL, ["batch"])],
        init,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                          helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
                                   producer_name="xyz-mlops-pipeline")
    onnx_model.ir_version = 8  # readable by every onnxruntime >= 1.14
    helper.set_model_props(onnx_model, {
        "model_name": model_name, "num_customers": str(len(model.customer_ids)), "num_items": str(n_items),
        "trained_until": model.meta["trained_until"],
    })
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def session(body: bytes, threads: int = 1):
    """An onnxruntime session as the serving image opens one: CPU, sequential, `threads` intra-op."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(body, sess_options=options, providers=["CPUExecutionProvider"])


def recommend(sess, customer_ids, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    skus, scores, fallback = sess.run(["skus", "scores", "is_fallback"],
                                      {"customer_id": np.asarray(customer_ids, dtype=object), "k": np.array([k], dtype=np.int64)})
    return skus, scores, fallback


def parity(model: TrainedModel, sess, customer_ids, k: int) -> list[str]:
    """Customers whose ONNX top-k differs from the trained model's.

    Same fallback flag, scores equal within float32 tolerance, and the same SKUs in the same
    order except where two neighbouring scores are equal (a tie may come out either way).
    """
    want_skus, want_scores, want_fallback = model.recommend(customer_ids, k)
    got_skus, got_scores, got_fallback = recommend(sess, customer_ids, k)
    bad = []
    for row, customer in enumerate(customer_ids):
        scores = want_scores[row]
        tied = np.zeros(len(scores), dtype=bool)
        same_as_next = np.isclose(scores[:-1], scores[1:], rtol=1e-5, atol=1e-6)
        tied[:-1] |= same_as_next
        tied[1:] |= same_as_next
        differs = want_skus[row] != got_skus[row]
        if (want_fallback[row] != got_fallback[row] or not np.allclose(scores, got_scores[row], rtol=1e-4, atol=1e-5)
                or (differs & ~tied).any()):
            bad.append(customer)
    return bad
