"""Export the trained model to ONNX (string ids in, SKUs out, popularity fallback) and check parity."""
from __future__ import annotations

import json

import numpy as np

from .. import onnx_export, s3
from ..errors import BadInput, GateFailed
from ..trainer import TrainedModel


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="model directory written by `train`")
    parser.add_argument("--out", required=True, help="s3://.../model.onnx (or a local path)")
    parser.add_argument("--model-name", default="recsys")
    parser.add_argument("--parity-customers", type=int, default=200, help="sampled customers whose top-K must match")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)


def main(args) -> None:
    if args.parity_customers < 1 or args.k < 1:
        raise BadInput(f"--parity-customers and --k must be >= 1 (got {args.parity_customers}, {args.k})")
    model = TrainedModel(args.model)
    body = onnx_export.build(model, args.model_name).SerializeToString()
    sess = onnx_export.session(body)
    rng = np.random.default_rng(args.seed)
    sample = list(rng.choice(model.customer_ids, size=min(args.parity_customers, len(model.customer_ids)), replace=False))
    sample.append("C000000000")  # never a shop id from training: must take the fallback path
    mismatched = onnx_export.parity(model, sess, sample, args.k)
    if mismatched:
        raise GateFailed(f"ONNX export differs from the trained model for {len(mismatched)} of {len(sample)} sampled customers, e.g. {mismatched[:3]}; not written")
    s3.put_bytes(args.out, body)
    print(json.dumps({"out": args.out, "bytes": len(body), "parity_customers": len(sample), "k": args.k}))
