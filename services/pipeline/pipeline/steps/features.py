"""Build the features zone: weighted, time-decayed interactions, the holdout, id mappings, popularity."""
from __future__ import annotations

import json

from .. import features, lake


def add_arguments(parser) -> None:
    parser.add_argument("--raw", required=True, help="s3://<raw bucket>[/<prefix>] holding clickstream/")
    parser.add_argument("--train-start", required=True, help="first training day, YYYY-MM-DD")
    parser.add_argument("--train-end", required=True, help="first holdout day (training window end, exclusive)")
    parser.add_argument("--holdout-end", required=True, help="day after the holdout period (exclusive)")
    parser.add_argument("--out", required=True, help="s3://<features bucket>/<model>/<run> the Parquet files go to")
    parser.add_argument("--half-life-days", type=float, default=features.HALF_LIFE_DAYS)


def main(args) -> None:
    train = lake.Window(args.raw, lake.parse_day(args.train_start, "--train-start"), lake.parse_day(args.train_end, "--train-end"))
    holdout_end = lake.parse_day(args.holdout_end, "--holdout-end")
    lake.Window(args.raw, train.end, holdout_end)  # the holdout must not be empty either
    print(json.dumps(features.run(train, holdout_end, args.out, args.half_life_days)))
