"""Register the candidate in MLflow: run with params, metrics, data snapshot, reports and ONNX; version tagged with every gate."""
from __future__ import annotations

import json

from .. import registry


def add_arguments(parser) -> None:
    parser.add_argument("--model-name", default="recsys")
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--evaluation", required=True, help="evaluation.json written by `evaluate`")
    parser.add_argument("--validation", required=True, help="validation.json written by `validate`")
    parser.add_argument("--features", required=True, help="features directory (its manifest.json is the data snapshot)")
    parser.add_argument("--model", required=True, help="model directory written by `train` (model.json: parameters)")
    parser.add_argument("--artifact-root", required=True, help="s3://<MLflow artifact bucket>; runs go under models/<model-name>/")


def main(args) -> None:
    result = registry.register(args.model_name, args.onnx, args.evaluation, args.validation, args.features,
                               args.model, args.artifact_root)
    print(json.dumps(result))
