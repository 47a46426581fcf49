"""Review of one previewed stack: the policy pack's verdict and the monthly cost per component.

`tools/preview.py` calls `review_stack` after each stack's summary (so `make preview` prints the
policy result and the cost table and fails on a mandatory violation); `make policy` runs it over
the previews already in build/preview:

    python -m tools.review dev staging prod"""
import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from policy.offline import Violation, evaluate
from policy.pack import RULES

from .cost import CostReport, NoPriceTable, estimate, format_cost, prices_for, stack_region
from .stack_files import REPO_ROOT, StackFileError, load_stack_config

DEFAULT_PREVIEW = REPO_ROOT / "build" / "preview"


def stack_environment(config: Mapping[str, str]) -> str | None:
    return config.get("mlops:environment")


def format_policy(violations: list[Violation], indent: str = "  ") -> str:
    counts = Counter(v.enforcement for v in violations)
    head = (f"{indent}policy: {len(RULES)} rules, {counts['mandatory']} mandatory and "
            f"{counts['advisory']} advisory violation(s) -> {'FAIL' if counts['mandatory'] else 'pass'}")
    lines = [head]
    for v in sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn or "")):
        where = (v.urn or "stack").split("::")[-1]
        lines.append(f"{indent}  [{v.enforcement}] {v.policy}: {where}: {v.message}")
    return "\n".join(lines)


def review_records(records: Iterable[Mapping[str, Any]], environment: str | None,
                   region: str = "us-east-1") -> tuple[list[Violation], CostReport | NoPriceTable]:
    """The cost is the stack region's estimate, or NoPriceTable where that region has no prices."""
    records = list(records)
    try:
        cost: CostReport | NoPriceTable = estimate(records, prices_for(region))
    except NoPriceTable as exc:
        cost = exc
    return evaluate(records, environment), cost


def review_stack(stack: str, records: Iterable[Mapping[str, Any]], config: Mapping[str, str],
                 out_dir: Path | None = None) -> tuple[str, bool]:
    """Returns (text to print, whether a mandatory violation was found); writes review.json."""
    violations, cost = review_records(records, stack_environment(config), stack_region(config))
    failed = any(v.enforcement == "mandatory" for v in violations)
    if out_dir is not None:
        (out_dir / "review.json").write_text(json.dumps({
            "stack": stack,
            "environment": stack_environment(config),
            "policy": {"rules": len(RULES), "violations": [v.to_json() for v in violations], "passed": not failed},
            "cost": cost.to_json() if isinstance(cost, CostReport) else {"error": str(cost)},
        }, indent=2, sort_keys=True) + "\n")
    cost_text = format_cost(cost) if isinstance(cost, CostReport) else f"  cost: NOT ESTIMATED: {cost}"
    return f"{format_policy(violations)}\n{cost_text}", failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="+")
    parser.add_argument("--preview", type=Path, default=DEFAULT_PREVIEW)
    args = parser.parse_args(argv)
    worst = 0
    for stack in args.stacks:
        path = args.preview / stack / "resources.json"
        if not path.exists():
            print(f"{stack}: no preview at {path}; run `make preview` first", file=sys.stderr)
            worst = max(worst, 2)
            continue
        try:
            config = load_stack_config(stack)
        except StackFileError as exc:
            print(exc, file=sys.stderr)
            worst = max(worst, 2)
            continue
        text, failed = review_stack(stack, json.loads(path.read_text()), config, path.parent)
        print(f"== {stack}\n{text}")
        if failed:
            worst = max(worst, 1)
    return worst


if __name__ == "__main__":
    sys.exit(main())
