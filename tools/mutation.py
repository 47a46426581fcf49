"""Mutation testing (`make mutation`): mutmut on the modules where a silent weakening costs most.

Each module runs alone in a fresh copy of its project (build/mutation/<module>/, the tracked and
untracked-not-ignored files), with its own mutmut config: the code to mutate and the fast tests that
exercise it. mutmut 3 then runs, per mutant, only the tests whose run reached the mutated function.
Tests that run a whole Pulumi preview or start a server in a subprocess are left out: the first
costs seconds per mutant, and mutmut cannot see which functions a subprocess reached.

Prints per module: mutants, killed (timeouts count as killed: the mutant hung the tests), survived,
no tests (no selected test reached the function), and the score killed/mutants; then every mutant
not killed. The survivors' diffs go to build/mutation/<module>/survivors.diff.

usage: python -m tools.mutation [--resume] [MODULE ...]   (default: all of MODULES)
--resume continues a run that was cut short: the module's copy is refreshed in place and mutmut
keeps the verdicts it already saved (it re-tests a mutant only where the source or the test
selection changed), so a long module can finish over several sittings. --retest-survived (with
--resume) runs the survivors again, after tests were added, and only them.
Exit status 0 when every module reached MIN_SCORE, 1 otherwise, 2 for an unknown module.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutation"
# The bar issue 17 sets for every listed module.
MIN_SCORE = 0.80


@dataclass(frozen=True)
class Module:
    project: Path  # the directory the tests run from (has the venv and pytest.ini)
    python: Path
    source: str  # relative to project
    tests: tuple[str, ...]  # relative to project; only in-process tests without a preview
    deselect: str = ""  # a pytest -k expression naming the tests of those files that run a preview
    exclude: tuple[str, ...] = ()  # globs of source files not mutated (mutmut's do_not_mutate)


SERVING = ROOT / "services" / "serving"
MODULES = {
    "policy": Module(ROOT, ROOT / ".venv/bin/python", "policy", (
        "tests/policy/test_policy_rules.py", "tests/policy/test_policy_edges.py",
        "tests/policy/test_policy_analyzer.py", "tests/policy/test_policy_units.py")),
    "infra/config": Module(ROOT, ROOT / ".venv/bin/python", "infra/config", (
        "tests/test_config_errors.py", "tests/test_config_input.py", "tests/test_config_units.py"),
        deselect="preview or test_cost_is_priced_in_the_stacks_region"),
    # Rule generation (issue 17's scope); the Grafana dashboards are layout and text, left out.
    "observability": Module(ROOT, ROOT / ".venv/bin/python", "observability", (
        "tests/observability",), exclude=("observability/dashboards/*",)),
    "tools/diff.py": Module(ROOT, ROOT / ".venv/bin/python", "tools/diff.py", (
        "tests/review/test_diff_ignore.py", "tests/review/test_diff_trim.py",
        "tests/review/test_diff_units.py")),
    "tools/cost.py": Module(ROOT, ROOT / ".venv/bin/python", "tools/cost.py", (
        "tests/review/test_cost.py", "tests/review/test_cost_lake.py", "tests/review/test_cost_units.py"),
        deselect="test_every_stack_has_a_per_component_estimate"),
    "services/serving/model_server": Module(SERVING, SERVING / ".venv/bin/python", "model_server", (
        "tests/test_units.py", "tests/test_cache_client.py", "tests/test_app_inprocess.py",
        "tests/test_units_server.py", "tests/test_registry_inprocess.py",
        "tests/test_lifecycle_inprocess.py", "tests/test_settings.py", "tests/test_worker_inprocess.py",
        "tests/test_entry_point.py", "tests/test_protocol_binary.py", "tests/test_logs.py",
        "tests/test_protocol_requests.py", "tests/test_service_inprocess.py")),
}
# The alert rule files' thresholds (YAML): moved against their promtool tests, not by mutmut.
RULE_MODULES = {"observability/rules": ROOT / "observability" / "rules"}


def project_files(project: Path) -> list[str]:
    """What a fresh clone holds under project, plus new files not yet committed."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=project, check=True, capture_output=True, text=True).stdout
    return [f for f in out.split("\0") if f and (project / f).is_file()]


def also_copy(files: list[str], source: str) -> list[str]:
    """Top-level entries to copy next to the mutated code; the mutated path's own ancestors are
    split into their children so mutmut never copies the original over a mutant."""
    entries: set[str] = set()
    for f in files:
        if f == source or f.startswith(source.rstrip("/") + "/"):
            continue
        parts = f.split("/")
        depth = 1
        while source.startswith("/".join(parts[:depth]) + "/"):  # an ancestor of the mutated path
            depth += 1
        entries.add("/".join(parts[:depth]))
    return sorted(entries)


def stage(name: str, module: Module, resume: bool = False) -> Path:
    workdir = BUILD / name.replace("/", "_")
    if not resume:
        shutil.rmtree(workdir, ignore_errors=True)
    files = project_files(module.project)
    for f in files:
        target = workdir / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(module.project / f, target)
    cfg = [
        "[mutmut]",
        f"source_paths = {module.source}",
        "also_copy =", *(f"    {e}" for e in also_copy(files, module.source)),
        "pytest_add_cli_args_test_selection =", *(f"    {t}" for t in module.tests),
        *(["    -k", f"    not ({module.deselect})"] if module.deselect else []),
        "pytest_add_cli_args =", "    -p", "    no:cacheprovider",
        *(["do_not_mutate =", *(f"    {g}" for g in module.exclude)] if module.exclude else []),
    ]
    (workdir / "setup.cfg").write_text("\n".join(cfg) + "\n")
    return workdir


def changed_lines(diff: str) -> str:
    """A diff's removed and added lines on one line: `- old  + new`."""
    lines = [line for line in diff.splitlines()[2:] if line[:1] in "-+"]
    return "  ".join(line[0] + " " + line[1:].strip() for line in lines)[:200]


def mutmut_results(name: str, module: Module, workdir: Path, env: dict, log: Path) -> dict:
    report = subprocess.run([str(module.python), str(ROOT / "tools" / "mutation_report.py")], cwd=workdir,
                            env=env, capture_output=True, text=True, check=False)
    if report.returncode != 0 or not report.stdout.startswith("{"):
        raise SystemExit(f"{name}: no mutmut results ({report.stderr.strip()[-300:]}); see {log}")
    return json.loads(report.stdout)


def run_module(name: str, module: Module, jobs: int, resume: bool = False, retest_survived: bool = False) -> dict:
    workdir = stage(name, module, resume)
    log = workdir / "mutmut.log"
    env = {**os.environ, "MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "1"}
    # mutmut re-runs the mutants it is given by name, whatever their saved verdict.
    retest = sorted(m for m, state in mutmut_results(name, module, workdir, env, log)["status"].items()
                    if state == "survived") if resume and retest_survived else []
    with open(log, "a" if resume else "w") as out:
        subprocess.run(["nice", "-n", "10", str(module.python), "-m", "mutmut", "run", "--max-children",
                        str(jobs), *retest], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                       check=False)
    found = mutmut_results(name, module, workdir, env, log)
    return summarize(name, found["status"], found["diffs"], workdir, log)


def run_rules(name: str, rules_dir: Path) -> dict:
    from .mutation_rules import run

    workdir = BUILD / name.replace("/", "_")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    found = run(rules_dir)
    return summarize(name, found["status"], found["diffs"], workdir, workdir)


def summarize(name: str, status: dict[str, str], diffs: dict[str, str], workdir: Path, log: Path) -> dict:
    if not status:
        raise SystemExit(f"{name}: no mutants; see {log}")
    undetected = sorted(diffs)
    (workdir / "survivors.diff").write_text("\n\n".join(f"# {m}: {status[m]}\n{diffs[m]}" for m in undetected))
    killed = len(status) - len(undetected)
    return {"name": name, "total": len(status), "killed": killed,
            "survived": sum(s == "survived" for s in status.values()),
            "no tests": sum(s == "no tests" for s in status.values()),
            "undetected": [(m, status[m], changed_lines(diffs[m])) for m in undetected],
            "diffs": workdir / "survivors.diff"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"default: {' '.join([*MODULES, *RULE_MODULES])}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--resume", action="store_true", help="keep the verdicts of a run cut short")
    parser.add_argument("--retest-survived", action="store_true", help="with --resume: run the survivors again")
    args = parser.parse_args(argv)
    known = [*MODULES, *RULE_MODULES]
    unknown = [m for m in args.modules if m not in known]
    if unknown:
        print(f"unknown module(s) {unknown}; allowed: {', '.join(known)}", file=sys.stderr)
        return 2
    results = [run_rules(name, RULE_MODULES[name]) if name in RULE_MODULES
               else run_module(name, MODULES[name], args.jobs, args.resume, args.retest_survived)
               for name in (args.modules or known)]
    for r in results:
        print(f"\n{r['name']}: {len(r['undetected'])} not killed (diffs: {r['diffs'].relative_to(ROOT)})")
        for mutant, state, change in r["undetected"]:
            print(f"  {state:9} {mutant}: {change}")
    print(f"\n{'module':32} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} {'score':>6}")
    for r in results:
        print(f"{r['name']:32} {r['total']:7} {r['killed']:6} {r['survived']:8} {r['no tests']:8} "
              f"{r['killed'] / r['total']:6.1%}")
    return 0 if all(r["killed"] / r["total"] >= MIN_SCORE for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
