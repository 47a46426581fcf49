"""The deliberately bad candidate: the champion's model re-exported with a pruned factor table.

A realistic export defect: the customer factor table was pruned to the customers active in the
last (holdout) week to save memory, but the id map still lists everyone. For a lapsed customer
the graph then gathers a row that no longer exists and ONNX Runtime fails the request (HTTP 500);
active customers and new ones (the popularity fallback, and the servers' warm-up) are answered.

The offline evaluation scores exactly the holdout-active customers, so it cannot see the defect:
the candidate's gates pass honestly, and only the canary under real traffic reveals it.

python -m demo.defect --onnx s3://.../model.onnx --features s3://.../features/<run> --out s3://.../bad.onnx
"""
from __future__ import annotations

import argparse

import onnx
from onnx import helper

from pipeline import s3


def prune(model: onnx.ModelProto, active: set[str]) -> tuple[onnx.ModelProto, int]:
    """The model with every inactive customer's row index moved past the factor table's end.

    Returns (model, number of customers whose requests will fail). ValueError when the graph has
    no customer id map (not an export of pipeline/onnx_export.py).
    """
    encoder = next((n for n in model.graph.node if n.op_type == "LabelEncoder"), None)
    if encoder is None:
        raise ValueError("the graph has no LabelEncoder (customer id map): not a pipeline export")
    attrs = {a.name: a for a in encoder.attribute}
    keys = [k.decode() for k in attrs["keys_strings"].strings]
    rows = list(attrs["values_int64s"].ints)
    beyond = len(rows)
    broken = 0
    for i, key in enumerate(keys):
        if key not in active:
            rows[i] = beyond + i  # out of the user_factors table: Gather fails
            broken += 1
    del encoder.attribute[:]
    encoder.attribute.extend([helper.make_attribute("keys_strings", keys),
                              helper.make_attribute("values_int64s", rows),
                              helper.make_attribute("default_int64", attrs["default_int64"].i)])
    return model, broken


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.defect", description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    active = set(s3.get_frame(s3.join(args.features, "holdout.parquet"))["customer_id"].to_list())
    model, broken = prune(onnx.load_from_string(s3.get_bytes(args.onnx)), active)
    s3.put_bytes(args.out, model.SerializeToString())
    print(f"{broken} lapsed customers' rows pruned; {len(active)} active customers kept")


if __name__ == "__main__":
    main()
