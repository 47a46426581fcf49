"""Train the implicit-feedback recommender (PyTorch MF, sampled softmax) on an interactions Parquet file."""
from __future__ import annotations

import json
import time

from .. import pushgateway, trainer
from ..errors import BadInput
from ..model import Params


def add_arguments(parser) -> None:
    parser.add_argument("--interactions", required=True, help="Parquet file, s3:// or local: (customer, item, timestamp[, weight])")
    parser.add_argument("--out", required=True, help="model directory, s3://... or local")
    parser.add_argument("--user-col", default="customer_id")
    parser.add_argument("--item-col", default="sku")
    parser.add_argument("--time-col", default="timestamp")
    parser.add_argument("--weight-col", default="weight", help="'' when the table has none (time decay from --half-life-days)")
    parser.add_argument("--half-life-days", type=float, default=7.0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    defaults = Params()
    for field, value in defaults.as_dict().items():
        parser.add_argument("--" + field.replace("_", "-"), type=type(value), default=value)
    parser.add_argument("--model-name", default="recsys", help="the `model` label of the pushed metric")
    parser.add_argument("--pushgateway", help="URL; pushes mlops_training_last_success_timestamp_seconds on success")


def main(args) -> None:
    params = Params(**{f: getattr(args, f) for f in Params().as_dict()})
    for name in ("factors", "epochs", "negatives", "batch_size"):
        if getattr(params, name) < 1:
            raise BadInput(f"--{name.replace('_', '-')} {getattr(params, name)} must be >= 1")
    if not params.learning_rate > 0 or params.l2 < 0:
        raise BadInput(f"--learning-rate must be > 0 and --l2 >= 0 (got {params.learning_rate}, {params.l2})")
    meta = trainer.train(args.interactions, args.out, params, args.device, args.user_col, args.item_col,
                         args.time_col, args.weight_col or None, args.half_life_days)
    if args.pushgateway:
        pushgateway.push(args.pushgateway, "training", args.model_name, {pushgateway.TRAINING_TS: time.time()})
    print(json.dumps({k: meta[k] for k in ("customers", "items", "pairs", "device", "seconds", "trained_until")}
                     | {"final_loss": meta["losses"][-1]}))
