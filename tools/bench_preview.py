"""`make bench-preview`: where the offline preview's time goes. A script that prints, not a test.

Three tables, each cell the median of `--runs` runs (default 5), all in one invocation so the
figures share one machine state:

1. Phases per stack, in a child forked from a warm process, one stack at a time:
   import (the SDK and project imports a cold process pays: a fresh interpreter per run),
   program (the Pulumi program under mocks), render (resources.json, k8s/*.yaml, summary),
   policy (the policy pack), cost (the estimate).
2. The whole command as a user runs it, `python -m tools.preview <stacks>`: through the warm
   preview server (tools/preview_server.py; what `make preview` does from its second run), in
   its own process (MLOPS_PREVIEW_SERVER=off: CI, the tests), and with one cold process per
   stack (what the preview did before it forked: the alternative a user would otherwise script).
3. Scaling with model files: the dev stack's program phase with 1, 10, 50 and 200 copies of
   models/recsys.yaml (the counts round-robin, run after run), the resources each added model
   declares, and the time per added model (least-squares slope), for the program and for the
   stack's whole preview after the import (program + render + policy + cost).
4. The SDK's registration floor: the time per resource of programs that declare nothing but
   resources (a bare CustomResource with two inputs; a kubernetes ConfigMap), under the
   preview's own mocks and recording monitor, against the program's time per resource of an
   added model. Resources per model times the floor is what an added model costs at the least
   while the preview runs the Pulumi SDK.

    python -m tools.bench_preview [--runs 5] [--stacks dev staging prod] [--models 1 10 50 200]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .stack_files import REPO_ROOT, available_stacks

PHASES = ("import", "program", "render", "policy", "cost")


def _child_phases(stacks: list[str], out: Path) -> dict[str, dict[str, float]]:
    """Runs in a fresh interpreter: times the import, then each stack's phases in a fork."""
    started = time.perf_counter()
    from .preview import PROGRAM_MODULES
    from .warm import preload, run_forked
    preload(REPO_ROOT, PROGRAM_MODULES)
    imported = time.perf_counter() - started

    def one(stack: str) -> int:
        from policy.offline import evaluate

        from .cost import estimate, load_prices
        from .engine import run_program
        from .render import write_preview
        from .stack_files import load_stack_config
        from .summary import summarize

        config = load_stack_config(stack)
        t0, c0 = time.perf_counter(), time.process_time()
        records = run_program(stack, config, [])
        t1, c1 = time.perf_counter(), time.process_time()
        write_preview(records, out / stack)
        summarize(records)
        t2 = time.perf_counter()
        evaluate(records, config.get("mlops:environment"))
        t3 = time.perf_counter()
        estimate(records, load_prices())
        t4 = time.perf_counter()
        print(json.dumps({"program": t1 - t0, "render": t2 - t1, "policy": t3 - t2, "cost": t4 - t3,
                          "program_cpu": c1 - c0, "resources": len(records)}))
        return 0

    result: dict[str, dict[str, float]] = {}
    for stack, outcome in zip(stacks, run_forked([lambda s=s: one(s) for s in stacks], width=1)):
        if outcome.code != 0:
            raise SystemExit(f"{stack}: preview failed in the benchmark:\n{outcome.stderr}")
        result[stack] = {"import": imported, **json.loads(outcome.stdout.strip().splitlines()[-1])}
    return result


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def _child(*args: str, env: dict[str, str] | None = None, what: str = "") -> dict:
    """`python -m tools.bench_preview <args>` (a --child-* mode): the JSON it prints last."""
    result = _python("-m", "tools.bench_preview", *args, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{what}{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _timed(*args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and its children)."""
    started, cpu = time.perf_counter(), _children_cpu()
    result = _python(*args, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"`python {' '.join(args)}` failed:\n{result.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu


def speed_probe() -> float:
    """CPU seconds of a fixed pure-Python loop (3 million additions), the least of three: how fast
    this machine runs Python right now. On the shared 2-vCPU machine a similar loop's CPU time
    varied 0.82-1.83 s within one day (2026-11-30), so figures from different runs compare only
    beside their probes."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.process_time() - started)
    return best


def _children_cpu() -> float:
    # On a shared machine the wall clock also counts other people's work; the CPU time the
    # command used does not, so a before/after comparison can rest on it.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _phase_table(stacks: list[str], runs: int, out: Path) -> list[str]:
    samples: list[dict[str, dict[str, float]]] = []
    for _ in range(runs):
        samples.append(_child("--child-phases", str(out), *stacks))
    lines = ["| stack | " + " | ".join(f"{p} s" for p in PHASES) + " | sum s |",
             "|---|" + "---:|" * (len(PHASES) + 1)]
    for stack in stacks:
        med = {p: statistics.median(s[stack][p] for s in samples) for p in PHASES}
        lines.append(f"| {stack} | " + " | ".join(f"{med[p]:.3f}" for p in PHASES)
                     + f" | {sum(med.values()):.3f} |")
    return lines


def _command_table(stacks: list[str], runs: int, out: Path) -> list[str]:
    served, warm, cold, warm_cpu, cold_cpu = [], [], [], [], []
    own = {"MLOPS_PREVIEW_SERVER": "off"}
    # The warm preview server (tools/preview_server.py) in a folder of the benchmark's own, so a
    # server the user's `make preview` left is neither used nor stopped.
    with tempfile.TemporaryDirectory(prefix="bench-ps-", dir="/tmp") as folder:
        server = {"MLOPS_PREVIEW_SERVER": "require", "MLOPS_PREVIEW_SERVER_DIR": folder}
        # The first call finds no server, starts one and waits for its imports.
        first, _ = _timed("-m", "tools.preview", "--out", str(out / "served"), *stacks, env=server)
        try:
            for _ in range(runs):  # interleaved, so drift in the machine's load hits all alike
                served.append(_timed("-m", "tools.preview", "--out", str(out / "served"), *stacks, env=server)[0])
                wall, cpu = _timed("-m", "tools.preview", "--out", str(out / "warm"), *stacks, env=own)
                warm.append(wall)
                warm_cpu.append(cpu)
                each = [_timed("-m", "tools.preview", "--out", str(out / "cold"), stack, env=own) for stack in stacks]
                cold.append(sum(wall for wall, _ in each))
                cold_cpu.append(sum(cpu for _, cpu in each))
        finally:
            _python("-m", "tools.preview_server", "stop", env={"MLOPS_PREVIEW_SERVER_DIR": folder})
    s, w, c = statistics.median(served), statistics.median(warm), statistics.median(cold)
    command = f"`python -m tools.preview {' '.join(stacks)}`"
    return ["| command | median s | min s | max s | CPU s (median) |", "|---|---:|---:|---:|---:|",
            f"| {command} through the warm preview server | {s:.2f} | {min(served):.2f} | {max(served):.2f} | (in the server) |",
            f"| the same, the first call: it starts the server and waits for it | {first:.2f} | | | |",
            f"| {command} in its own process (one import, forked per stack) | {w:.2f} | {min(warm):.2f} | {max(warm):.2f} | {statistics.median(warm_cpu):.2f} |",
            f"| a cold `python -m tools.preview <stack>` per stack, one after another | {c:.2f} | {min(cold):.2f} | {max(cold):.2f} | {statistics.median(cold_cpu):.2f} |",
            f"| speed-up against the cold processes: {c / s:.1f}x through the server, {c / w:.1f}x in its own process | | | | |"]


def _models_dir(tmp: Path, copies: int) -> Path:
    source = yaml.safe_load((REPO_ROOT / "models" / "recsys.yaml").read_text())
    folder = tmp / f"models-{copies}"
    folder.mkdir()
    for i in range(copies):
        name = "recsys" if i == 0 else f"recsys{i:03d}"
        doc = {**source, "name": name, "modelUri": str(source["modelUri"]).replace("recsys", name, 1)}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def _model_table(counts: list[int], runs: int, tmp: Path) -> tuple[list[str], float, float]:
    """The scaling table, the seconds per added model (slope) and the resources per added model."""
    folders = {n: _models_dir(tmp, n) for n in counts}
    samples: dict[int, list[dict]] = {n: [] for n in counts}
    # Round-robin over the counts, as the command table interleaves its commands: this machine's
    # speed drifts by minutes, and one count's runs back to back put the drift into the slope
    # (table 3 read 25.2 and 44.7 ms per model 16 minutes apart, 2026-11-30).
    for _ in range(runs):
        for n in counts:
            samples[n].append(_child("--child-phases", str(tmp / f"out-{n}"), "dev",
                                     env={"MLOPS_MODELS_DIR": str(folders[n])}, what=f"{n} models: ")["dev"])
    medians = {n: statistics.median(s["program"] for s in samples[n]) for n in counts}
    cpu = {n: statistics.median(s["program_cpu"] for s in samples[n]) for n in counts}
    # The whole stack's preview after the import: what `make preview` spends on the stack.
    whole = {n: statistics.median(sum(s[phase] for phase in PHASES[1:]) for s in samples[n]) for n in counts}
    resources = {n: samples[n][0]["resources"] for n in counts}
    xs = list(medians)
    slope = _slope(xs, list(medians.values()))
    cpu_slope = _slope(xs, [cpu[n] for n in xs])
    whole_slope = _slope(xs, [whole[n] for n in xs])

    def per_model(series: dict[int, float], n: int) -> str:
        return "" if n == xs[0] else f"{(series[n] - series[xs[0]]) / (n - xs[0]) * 1000:.1f}"

    lines = ["| model files | dev program s | per model vs 1 file, ms | dev program CPU s | per model (CPU) ms "
             "| dev program + render + policy + cost s | per model, ms |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for n, t in medians.items():
        lines.append(f"| {n} | {t:.3f} | {per_model(medians, n)} | {cpu[n]:.3f} | {per_model(cpu, n)} "
                     f"| {whole[n]:.3f} | {per_model(whole, n)} |")
    lines.append(f"| slope (least squares) | | {slope * 1000:.1f} | | {cpu_slope * 1000:.1f} | | {whole_slope * 1000:.1f} |")
    per_model_resources = (resources[xs[-1]] - resources[xs[0]]) / (xs[-1] - xs[0])
    lines.append(f"| resources per added model | {per_model_resources:g} | | | | | |")
    return lines, slope, per_model_resources


# Programs that declare nothing but `count` resources, for the registration floor (table 4).
FLOOR_PROGRAMS = {
    "a bare CustomResource, two inputs": (
        "import pulumi\n"
        "for i in range({count}):\n"
        "    pulumi.CustomResource('bench:index:Thing', f'thing{{i}}', {{'name': f'thing{{i}}', 'size': i}})\n"),
    "a kubernetes ConfigMap (metadata, labels, data)": (
        "import pulumi_kubernetes as k8s\n"
        "for i in range({count}):\n"
        "    k8s.core.v1.ConfigMap(f'cm{{i}}', metadata={{'name': f'cm{{i}}', 'namespace': 'bench',\n"
        "                          'labels': {{'app.kubernetes.io/name': 'bench'}}}}, data={{'key': 'value'}})\n"),
}
FLOOR_COUNTS = (50, 400)


def _child_floor(kind: str, count: int, tmp: Path) -> dict[str, float]:
    """Runs in a fresh interpreter, warmed like the preview: one floor program in a fork."""
    from .preview import PROGRAM_MODULES
    from .warm import preload, run_forked
    preload(REPO_ROOT, PROGRAM_MODULES)
    program = tmp / "floor_program.py"
    program.write_text(FLOOR_PROGRAMS[kind].format(count=count))

    def job() -> int:
        from .engine import run_program
        t0, c0 = time.perf_counter(), time.process_time()
        records = run_program("dev", {}, [], program=program)
        print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                          "resources": len(records)}))
        return 0

    [outcome] = run_forked([job], width=1)
    if outcome.code != 0:
        raise SystemExit(f"floor program ({kind}) failed:\n{outcome.stderr}")
    return json.loads(outcome.stdout.strip().splitlines()[-1])


def _floor_table(runs: int, tmp: Path, per_model: float, per_model_resources: float) -> list[str]:
    lines = ["| what is declared | ms per resource | CPU ms per resource | x resources per model, ms |",
             "|---|---:|---:|---:|"]
    for kind in FLOOR_PROGRAMS:
        walls: dict[int, float] = {}
        cpus: dict[int, float] = {}
        for count in FLOOR_COUNTS:
            samples = []
            for _ in range(runs):
                samples.append(_child("--child-floor", kind, str(count), str(tmp)))
            walls[count] = statistics.median(s["seconds"] for s in samples)
            cpus[count] = statistics.median(s["cpu"] for s in samples)
        low, high = FLOOR_COUNTS
        wall = (walls[high] - walls[low]) / (high - low)
        cpu = (cpus[high] - cpus[low]) / (high - low)
        lines.append(f"| {kind} | {wall * 1000:.2f} | {cpu * 1000:.2f} | {wall * per_model_resources * 1000:.1f} |")
    lines.append(f"| an added model's resources (table 3's slope / {per_model_resources:g}) | "
                 f"{per_model / per_model_resources * 1000:.2f} | | {per_model * 1000:.1f} |")
    return lines


def _slope(xs: list[int], ys: list[float]) -> float:
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stacks", nargs="+", default=None)
    parser.add_argument("--models", nargs="+", type=int, default=[1, 10, 50, 200])
    parser.add_argument("--child-phases", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--child-floor", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_floor:
        kind, count, tmp = args.child_floor
        print(json.dumps(_child_floor(kind, int(count), Path(tmp))))
        return 0
    if args.child_phases:
        out, *stacks = args.child_phases
        print(json.dumps(_child_phases(stacks, Path(out))))
        return 0
    stacks = args.stacks or available_stacks()
    # The interpreter too: the same preview took 26% less CPU per model on Debian's python3.11
    # (PGO and LTO) than on pyenv's default build (scripts/find-python).
    print(f"bench-preview: {len(stacks)} stacks, {args.runs} runs each, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]} ({sys._base_executable}), "
          f"load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"speed probe {speed_probe():.3f} s (tools.bench_preview.speed_probe)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        print("\nPhases per stack (median s; import = a cold interpreter's SDK + project imports):")
        print("\n".join(_phase_table(stacks, args.runs, tmp_path / "phases")), flush=True)
        print("\nThe whole command:")
        print("\n".join(_command_table(stacks, args.runs, tmp_path / "command")), flush=True)
        print("\nScaling with model files (dev: the program phase, and the whole preview after the import):")
        lines, per_model, per_model_resources = _model_table(args.models, args.runs, tmp_path)
        print("\n".join(lines), flush=True)
        print(f"\nThe SDK's registration floor ({FLOOR_COUNTS[0]} -> {FLOOR_COUNTS[1]} resources, the preview's mocks):")
        print("\n".join(_floor_table(args.runs, tmp_path, per_model, per_model_resources)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
