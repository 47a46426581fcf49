"""Counts of a stack's resources by component and by type, for the console and for review."""
from collections import Counter
from typing import Any


def top_component(resource: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> str:
    node = resource
    while node["parent"] and node["parent"] in by_urn:
        node = by_urn[node["parent"]]
    return node["name"] if not node["custom"] else "(stack)"


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_urn = {r["urn"]: r for r in records}
    custom = [r for r in records if r["custom"] and not r["type"].startswith("pulumi:providers:")]
    return {
        "resources": len(custom),
        "components": len([r for r in records if not r["custom"]]),
        "by_component": dict(sorted(Counter(top_component(r, by_urn) for r in custom).items())),
        "by_type": dict(sorted(Counter(r["type"] for r in custom).items())),
    }


def format_summary(stack: str, summary: dict[str, Any]) -> str:
    lines = [f"== {stack}: {summary['resources']} resources in {summary['components']} components"]
    width = max(len(k) for k in (*summary["by_component"], *summary["by_type"], "x"))
    lines.append("  by component:")
    lines += [f"    {k:<{width}}  {v:>4}" for k, v in summary["by_component"].items()]
    lines.append("  by type:")
    lines += [f"    {k:<{width}}  {v:>4}" for k, v in summary["by_type"].items()]
    return "\n".join(lines)
