"""Build a matrix-factorisation recommender as one ONNX graph, with random factors.

Stands in for the training pipeline's export in tests and the benchmark (nothing downloaded), with
the same graph contract as model_server/recommender.py reads:
  inputs   customer_id STRING [batch] (the shop's ids, e.g. C000001234), k INT64 [1]
  outputs  skus STRING [batch, k], scores FLOAT [batch, k], is_fallback BOOL [batch]
  metadata model_name, num_customers, num_items, trained_until
The id mapping lives in the graph (ONNX-ML LabelEncoder); a customer the encoder does not know
gets the popularity ranking and is_fallback = true.

    python -m tools.build_recsys_model --customers 1000000 --items 20000 --dim 32 --out model.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The lake contract's id formats (contracts/clickstream.yaml): customer_id ^C[0-9]{9}$, sku ^SKU-[0-9]{8}$.


def customer_id(row: int) -> str:
    # Not row numbers: every third shop id is skipped, so a row index is never a valid id by luck.
    return f"C{row * 3 + 1000:09d}"


def sku(row: int) -> str:
    return f"SKU-{row * 7 + 100_000:08d}"


def build(out: Path, customers: int, items: int, dim: int = 32, seed: int = 0,
          model_name: str = "recsys", trained_until: str = "2026-11-01T00:00:00Z") -> Path:
    rng = np.random.default_rng(seed)
    customer_factors = rng.standard_normal((customers, dim), dtype=np.float32)
    item_factors_t = rng.standard_normal((dim, items), dtype=np.float32)
    # A long-tailed popularity (Zipf-like), in a random item order so it differs from any user's list.
    popularity = (1.0 / np.arange(1, items + 1, dtype=np.float32))[rng.permutation(items)]
    skus = np.array([sku(i) for i in range(items)], dtype=object)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("LabelEncoder", ["customer_id"], ["row"], domain="ai.onnx.ml",
                             keys_strings=[customer_id(i) for i in range(customers)],
                             values_int64s=list(range(customers)), default_int64=-1),
            helper.make_node("Less", ["row", "zero"], ["is_fallback"]),
            helper.make_node("Where", ["is_fallback", "zero", "row"], ["safe_row"]),
            helper.make_node("Gather", ["customer_factors", "safe_row"], ["customer_vectors"], axis=0),
            helper.make_node("MatMul", ["customer_vectors", "item_factors_t"], ["personal_scores"]),
            helper.make_node("Unsqueeze", ["is_fallback", "axis1"], ["fallback_column"]),
            helper.make_node("Where", ["fallback_column", "popularity", "personal_scores"], ["all_scores"]),
            helper.make_node("TopK", ["all_scores", "k"], ["scores", "item_rows"], axis=-1,
                             largest=1, sorted=1),
            helper.make_node("Gather", ["sku_table", "item_rows"], ["skus"], axis=0),
        ],
        name="recsys_mf_topk",
        inputs=[
            helper.make_tensor_value_info("customer_id", TensorProto.STRING, ["batch"]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        outputs=[
            helper.make_tensor_value_info("skus", TensorProto.STRING, ["batch", "k"]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "k"]),
            helper.make_tensor_value_info("is_fallback", TensorProto.BOOL, ["batch"]),
        ],
        initializer=[
            numpy_helper.from_array(customer_factors, "customer_factors"),
            numpy_helper.from_array(item_factors_t, "item_factors_t"),
            numpy_helper.from_array(popularity.reshape(1, items), "popularity"),
            numpy_helper.from_array(skus, "sku_table"),
            numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ],
    )
    model = helper.make_model(
        graph, producer_name="recsys-build",
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)],
    )
    model.ir_version = 8  # readable by every onnxruntime of the last years
    helper.set_model_props(model, {"model_name": model_name, "num_customers": str(customers),
                                   "num_items": str(items), "trained_until": trained_until})
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(build(args.out, args.customers, args.items, args.dim, args.seed))


if __name__ == "__main__":
    main()
