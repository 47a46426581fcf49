"""Threshold mutants of the alert rule files (observability/rules/*.rules.yaml) against their
promtool unit tests, for `make mutation`: mutmut mutates Python only, and the platform's alert
thresholds are YAML.

Each number an alert's `expr` compares against (`> 90`, `< 5`, `> 0.95`) is moved 10% down and
10% up, one at a time (at least one unit of its last digit: 90 -> 81 / 99, 0.95 -> 0.855 /
1.045, 0 -> -1 / 1), in a copy of the rules directory; the mutant is killed when
`promtool test rules` fails on the test files that load that rule file. A survivor is a threshold
no test holds at its edge: moving it like issue 17's 90 -> 80 would pass every test.

Returns, like tools/mutation_report.py, {"status": {mutant: status}, "diffs": {mutant: diff}}.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import yaml

COMPARISON = re.compile(r"(?<![=!<>])(>=|<=|>|<|==|!=)\s*(-?\d+(?:\.\d+)?)(?![\w.\[])")


def moved(number: str) -> list[str]:
    """The value 10% down and up, by at least one unit of its last digit."""
    value = Decimal(number)
    unit = Decimal(1).scaleb(value.as_tuple().exponent)
    step = max(abs(value) / 10, unit)
    return [format((value - step).normalize(), "f"), format((value + step).normalize(), "f")]


def thresholds(rule_file: Path) -> list[tuple[str, int, str, str]]:
    """(alert, line number, operator, number) of every comparison in an alert's expr."""
    lines = rule_file.read_text().splitlines()
    found = []
    for group in yaml.safe_load(rule_file.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            for expr_line in rule["expr"].splitlines():
                for operator, number in COMPARISON.findall(expr_line):
                    line = next(i for i, text in enumerate(lines) if text.strip().endswith(expr_line.strip()))
                    found.append((rule["alert"], line, operator, number))
    return found


def run(rules_dir: Path) -> dict:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise SystemExit("promtool is not on PATH: run `make system-deps` (scripts/install-system-deps.sh)")
    status, diffs = {}, {}
    tests_by_rules: dict[str, list[str]] = {}
    for test in sorted((rules_dir / "tests").glob("*.test.yaml")):
        for rule_file in yaml.safe_load(test.read_text())["rule_files"]:
            tests_by_rules.setdefault(Path(rule_file).name, []).append(test.name)
    with tempfile.TemporaryDirectory(prefix="mutation-rules-") as scratch:
        copy = Path(scratch) / "rules"
        shutil.copytree(rules_dir, copy)
        for rule_file in sorted(rules_dir.glob("*.rules.yaml")):
            original = rule_file.read_text()
            lines = original.splitlines(keepends=True)
            for alert, line, operator, number in thresholds(rule_file):
                for new in moved(number):
                    mutant = f"{rule_file.name}:{alert}:{operator}{number}->{new}"
                    changed = list(lines)
                    changed[line] = re.sub(rf"{re.escape(operator)}\s*{re.escape(number)}(?![\w.])",
                                           f"{operator} {new}", changed[line], count=1)
                    (copy / rule_file.name).write_text("".join(changed))
                    tests = tests_by_rules.get(rule_file.name, [])
                    if not tests:
                        status[mutant] = "no tests"
                    else:
                        result = subprocess.run([promtool, "test", "rules", *tests], cwd=copy / "tests",
                                                capture_output=True, text=True, timeout=300)
                        status[mutant] = "killed" if result.returncode != 0 else "survived"
                    if status[mutant] != "killed":
                        diffs[mutant] = f"--- {rule_file.name}\n+++ {rule_file.name}\n-{lines[line].rstrip()}\n+{changed[line].rstrip()}"
            (copy / rule_file.name).write_text(original)
    return {"status": status, "diffs": diffs}
