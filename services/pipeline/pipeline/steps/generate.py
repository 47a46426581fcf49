"""Write a synthetic clickstream into the raw zone (clickstream/dt=YYYY-MM-DD/hour=HH/)."""
from __future__ import annotations

import json

from .. import generate, lake


def add_arguments(parser) -> None:
    parser.add_argument("--raw", required=True, help="s3://<raw bucket>[/<prefix>] the clickstream/ partitions go under")
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--events-per-day", type=int, default=50_000)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drift-from", help="YYYY-MM-DD: inject drift from this day on")
    parser.add_argument("--drift-kind", choices=("taste", "catalogue"))


def main(args) -> None:
    spec = generate.Spec(
        start=lake.parse_day(args.start, "--start"), days=args.days, users=args.users, items=args.items,
        events_per_day=args.events_per_day, seed=args.seed, segments=args.segments,
        drift_from=lake.parse_day(args.drift_from, "--drift-from") if args.drift_from else None,
        drift_kind=args.drift_kind,
    )
    print(json.dumps(generate.run(spec, args.raw)))
