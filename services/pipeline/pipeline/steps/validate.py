"""Check a window of raw events against the lake contract; write the JSON report (the schema gate's input)."""
from __future__ import annotations

from .. import lake, s3, validate
from ..errors import GateFailed


def add_arguments(parser) -> None:
    parser.add_argument("--raw", required=True, help="s3://<raw bucket>[/<prefix>] holding clickstream/")
    parser.add_argument("--start", required=True, help="first day of the window, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="day after the window, YYYY-MM-DD (exclusive)")
    parser.add_argument("--report", required=True, help="s3://.../validation.json (or a local path)")
    parser.add_argument("--max-duplicate-rate", type=float, default=validate.MAX_DUPLICATE_RATE)
    parser.add_argument("--max-missing-price-rate", type=float, default=validate.MAX_MISSING_PRICE_RATE)


def main(args) -> None:
    window = lake.Window(args.raw, lake.parse_day(args.start, "--start"), lake.parse_day(args.end, "--end"))
    report = validate.run(window, args.max_duplicate_rate, args.max_missing_price_rate)
    s3.put_json(args.report, report)
    failed = [c for c in report["checks"] if not c["passed"]]
    if failed:
        raise GateFailed("data failed validation: " + "; ".join(
            f"{c['name']} = {c['value']} (allowed {c['threshold']}){': ' + c['detail'] if c['detail'] else ''}" for c in failed)
            + f" (report {args.report})")
    print(f"validation passed: {report['rows']} events in {report['files']} files, {len(report['checks'])} checks; report {args.report}")
