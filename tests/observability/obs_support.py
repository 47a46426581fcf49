"""Helpers for the observability tests: locating artifacts, running the Debian tools, reading PromQL."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "observability" / "rules"
PLATFORM_RULE_FILES = sorted(RULES_DIR.glob("*.rules.yaml"))
PLATFORM_TEST_FILES = sorted((RULES_DIR / "tests").glob("*.test.yaml"))
MODEL_TESTS_DIR = Path(__file__).resolve().parent / "model_rules"

# The shipped model as its onboarding file declares it, and a second render with other SLOs
# that proves the thresholds come from the arguments. Each has <name>.test.yaml in model_rules/.
MODEL_RENDERS = {
    "recsys": dict(model="recsys", namespace="recsys", team="recommendations",
                   availability_target=0.999, latency_threshold_seconds=0.1),
    "recsys-loose-slo": dict(model="recsys", namespace="recsys", team="recommendations",
                             availability_target=0.99, latency_threshold_seconds=0.25, canary_error_rate=0.05),
}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: run `make system-deps` (scripts/install-system-deps.sh)"
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)


def load(path: Path) -> dict:
    # libyaml (CSafeLoader): the suites load the rule and dashboard files dozens of times.
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)


def alert_rules(rule_file: dict) -> list[dict]:
    return [rule for group in rule_file["groups"] for rule in group["rules"] if "alert" in rule]


def all_rules(rule_file: dict) -> list[dict]:
    return [rule for group in rule_file["groups"] for rule in group["rules"]]


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_LABEL_VALUES = re.compile(r"label_values\((.*),\s*\w+\s*\)\s*$", re.S)
_TOKEN = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
             "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Names of the series a PromQL expression (or a Grafana label_values query) selects."""
    match = _LABEL_VALUES.match(expr.strip())
    if match:
        expr = match.group(1)
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for token in _TOKEN.finditer(text):
        if token.group(0).lower() in _KEYWORDS:
            continue
        if text[token.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(token.group(0))
    return names


def dashboard_queries(board: dict) -> list[str]:
    """Every PromQL text of a dashboard: panel targets and query variables."""
    queries = [target["expr"] for panel in board.get("panels", []) for target in panel.get("targets") or []]
    queries += [variable["query"] for variable in board.get("templating", {}).get("list", [])
                if variable.get("type") == "query"]
    return queries


_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names matched on) for every `metric{...}` selector of an expression."""
    text = _STRING.sub(lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', expr)  # keep offsets, drop quotes' content
    out = []
    for match in _SELECTOR.finditer(text):
        out.append((match.group(1), set(_MATCHER.findall(match.group(2)))))
    return out
