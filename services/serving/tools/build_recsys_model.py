"""Build a matrix-factorisation recommender as one ONNX graph, with random factors.

Stands in for the training pipeline's artifact in tests and the benchmark (nothing downloaded):
same graph contract as model_server/recommender.py reads.

    python -m tools.build_recsys_model --users 1000000 --items 20000 --dim 32 --out model.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(out: Path, users: int, items: int, dim: int = 32, seed: int = 0,
          version: str | None = None) -> Path:
    rng = np.random.default_rng(seed)
    user_factors = rng.standard_normal((users, dim), dtype=np.float32)
    item_factors_t = rng.standard_normal((dim, items), dtype=np.float32)
    # Catalogue ids are not row numbers in the real catalogue; a lookup keeps that honest.
    catalogue_ids = (np.arange(items, dtype=np.int64) * 7 + 100_000)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Gather", ["user_factors", "user_id"], ["user_vectors"], axis=0),
            helper.make_node("MatMul", ["user_vectors", "item_factors_t"], ["all_scores"]),
            helper.make_node("TopK", ["all_scores", "k"], ["scores", "item_rows"], axis=-1,
                             largest=1, sorted=1),
            helper.make_node("Gather", ["catalogue_ids", "item_rows"], ["item_ids"], axis=0),
        ],
        name="recsys_mf_topk",
        inputs=[
            helper.make_tensor_value_info("user_id", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        outputs=[
            helper.make_tensor_value_info("item_ids", TensorProto.INT64, ["batch", "k"]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "k"]),
        ],
        initializer=[
            numpy_helper.from_array(user_factors, "user_factors"),
            numpy_helper.from_array(item_factors_t, "item_factors_t"),
            numpy_helper.from_array(catalogue_ids, "catalogue_ids"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="recsys-build")
    model.ir_version = 8  # readable by every onnxruntime of the last years
    metadata = {"num_users": str(users), "num_items": str(items)}
    if version:
        metadata["model_version"] = version
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(build(args.out, args.users, args.items, args.dim, args.seed))


if __name__ == "__main__":
    main()
