"""Evaluate candidate, champion and popularity on the holdout; apply the release gates; write the report."""
from __future__ import annotations

import datetime as dt
import json

from .. import evaluate, metrics, onnx_export, registry, s3
from ..errors import BadInput, GateFailed


def add_arguments(parser) -> None:
    parser.add_argument("--features", required=True, help="features directory written by `features` (holdout, popularity)")
    parser.add_argument("--onnx", required=True, help="the candidate's model.onnx written by `export`")
    parser.add_argument("--validation", required=True, help="validation.json of the training window (`validate`)")
    parser.add_argument("--report", required=True, help="s3://.../evaluation.json (or a local path)")
    parser.add_argument("--model-name", default="recsys")
    parser.add_argument("--champion", default="auto", help="'auto': the registry's <model>@champion if MLFLOW_TRACKING_URI is set; 'none'; or a local/s3 .onnx")
    parser.add_argument("--min-improvement", type=float, default=evaluate.MIN_IMPROVEMENT,
                        help="absolute HR@10 over the baseline (the model file's gates.minImprovement)")
    parser.add_argument("--p99-ms", type=float, default=evaluate.P99_MS)
    parser.add_argument("--latency-requests", type=int, default=evaluate.LATENCY_REQUESTS)
    parser.add_argument("--k", type=int, default=evaluate.K)
    parser.add_argument("--seed", type=int, default=7)


def main(args) -> None:
    if not 0 <= args.min_improvement < 1:
        raise BadInput(f"--min-improvement {args.min_improvement} must be in [0, 1): an absolute HR@10 difference")
    if args.k < 1 or args.latency_requests < 100 or args.p99_ms <= 0:
        raise BadInput("--k >= 1, --latency-requests >= 100 and --p99-ms > 0 are required "
                       f"(got {args.k}, {args.latency_requests}, {args.p99_ms})")
    holdout = s3.get_frame(s3.join(args.features, "holdout.parquet"))
    popularity = s3.get_frame(s3.join(args.features, "popularity.parquet"))
    validation = s3.get_json(args.validation)
    candidate_body = s3.get_bytes(args.onnx)
    try:
        sess = onnx_export.session(candidate_body)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        raise BadInput(f"{args.onnx}: onnxruntime cannot load it ({str(exc).splitlines()[0]})") from None
    known = set(s3.get_frame(s3.join(args.features, "customers.parquet"))["customer_id"].to_list())
    customers = sorted(set(holdout["customer_id"].to_list()) & known)
    if not customers:
        raise BadInput(f"{s3.join(args.features, 'holdout.parquet')}: no held-out customer was seen in training; nothing to evaluate")
    catalogue = popularity.height
    results = {"candidate": metrics.ranking_metrics(customers, evaluate.onnx_topk(sess, customers, args.k), holdout, args.k, catalogue),
               "popularity": metrics.ranking_metrics(customers, evaluate.popularity_topk(popularity, len(customers), args.k), holdout, args.k, catalogue)}
    champion = registry.champion_onnx(args.model_name, args.champion)
    if champion is not None:
        source, body = champion
        results["champion"] = metrics.ranking_metrics(customers, evaluate.onnx_topk(onnx_export.session(body), customers, args.k),
                                                      holdout, args.k, catalogue) | {"source": source}
    baseline = "champion" if champion is not None else "popularity"
    latency = evaluate.latency_p99_ms(sess, customers, args.latency_requests, args.k, args.seed)
    gates = evaluate.gates(results["candidate"], baseline, results[baseline], args.min_improvement, validation,
                           latency, args.p99_ms, args.k)
    report = {
        "model_name": args.model_name, "k": args.k, "baseline": baseline, "min_improvement": args.min_improvement,
        "evaluated_customers": len(customers), "holdout_customers": holdout["customer_id"].n_unique(),
        "metrics": results, "latency": latency, "gates": gates, "passed": all(g["passed"] for g in gates.values()),
        "candidate_onnx": args.onnx, "validation": args.validation,
        "evaluated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    s3.put_json(args.report, report)
    summary = "; ".join(f"{name} {'passed' if g['passed'] else 'FAILED'} ({g['detail']})" for name, g in gates.items())
    if not report["passed"]:
        raise GateFailed(f"release gates failed: {summary} (report {args.report})")
    print(f"release gates passed: {summary}")
    print(json.dumps({name: {m: round(v, 4) for m, v in r.items() if isinstance(v, float)} for name, r in results.items()}))
