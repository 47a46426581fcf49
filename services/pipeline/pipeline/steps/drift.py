"""Compare the current window with the champion's training window; report, push the drift gauges."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .. import drift, lake, pushgateway, registry, s3
from ..errors import BadInput


def add_arguments(parser) -> None:
    parser.add_argument("--raw", help="s3://<raw bucket>[/<prefix>]; default: the champion's `raw` tag")
    parser.add_argument("--current-start", required=True)
    parser.add_argument("--current-end", required=True, help="exclusive")
    parser.add_argument("--reference-start", help="default: the champion's train_start tag")
    parser.add_argument("--reference-end", help="default: the champion's train_end tag (exclusive)")
    parser.add_argument("--model-name", default="recsys")
    parser.add_argument("--out", required=True, help="s3://.../drift/<date>: drift.json and drift.html go there")
    parser.add_argument("--drift-share", type=float, default=drift.DRIFT_SHARE)
    parser.add_argument("--max-unseen-item-share", type=float, default=drift.MAX_UNSEEN_ITEM_SHARE)
    parser.add_argument("--pushgateway", help="URL; pushes mlops_data_drift_detected and mlops_data_drift_share")
    parser.add_argument("--result-file", type=Path,
                        help='local path: {"drift_detected": bool, "drift_share": float} (the drift DAG\'s XCom)')


def main(args) -> None:
    if not 0 < args.drift_share <= 1 or not 0 <= args.max_unseen_item_share <= 1:
        raise BadInput(f"--drift-share must be in (0, 1] and --max-unseen-item-share in [0, 1] (got {args.drift_share}, {args.max_unseen_item_share})")
    champion = None
    if not (args.raw and args.reference_start and args.reference_end):
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            raise BadInput("--raw, --reference-start and --reference-end are required without MLFLOW_TRACKING_URI (the champion's training window)")
        champion = registry.champion_version(args.model_name)
        if champion is None:
            raise BadInput(f"{args.model_name}@champion does not exist; give --raw, --reference-start and --reference-end")
    tags = champion.tags if champion is not None else {}
    raw = args.raw or tags.get("raw")
    reference = lake.Window(raw, lake.parse_day(args.reference_start or tags.get("train_start"), "--reference-start"),
                            lake.parse_day(args.reference_end or tags.get("train_end"), "--reference-end"))
    current = lake.Window(raw, lake.parse_day(args.current_start, "--current-start"), lake.parse_day(args.current_end, "--current-end"))
    result, html = drift.run(reference, current, args.drift_share, args.max_unseen_item_share)
    result["model_name"] = args.model_name
    s3.put_json(s3.join(args.out, "drift.json"), result)
    s3.put_bytes(s3.join(args.out, "drift.html"), html.encode(), "text/html")
    if champion is not None:
        # Kept with the model: the champion's run gets the report under drift/<current window>/.
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "drift.html").write_text(html)
            (Path(tmp) / "drift.json").write_text(json.dumps(result, indent=2, sort_keys=True))
            registry.client().log_artifacts(champion.run_id, tmp, artifact_path=f"drift/{current.start}_{current.end}")
        result["logged_to"] = f"models:/{args.model_name}/{champion.version}"
    if args.pushgateway:
        pushgateway.push(args.pushgateway, "drift", args.model_name,
                         {pushgateway.DRIFT_DETECTED: float(result["detected"]), pushgateway.DRIFT_SHARE: result["drift_share"]})
    if args.result_file:
        args.result_file.parent.mkdir(parents=True, exist_ok=True)
        args.result_file.write_text(json.dumps({"drift_detected": bool(result["detected"]),
                                                "drift_share": float(result["drift_share"])}))
    print(json.dumps({k: result[k] for k in ("detected", "drift_share", "unseen_customer_share", "unseen_item_share")}
                     | {"drifted_columns": sorted(c for c, v in result["columns"].items() if v["drifted"])}))
