"""Offline preview of one or more stacks: the real program under Pulumi's mock runtime.

    python -m tools.preview                        # every stacks/Pulumi.<stack>.yaml (what `make preview` runs)
    python -m tools.preview dev staging            # those stacks
    python -m tools.preview --stack-file F dev     # preview a stack file kept elsewhere

Writes build/preview/<stack>/{resources.json,summary.json,review.json,k8s/*.yaml}. Exit 2 on a bad
stack config or model file (the program prints one line per problem) or a physical name AWS would
refuse or that collides (tools/physical_names.py), 3 on a mandatory policy violation, 1 on any
other failure."""
import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

# The stack files' loader (and pydantic under it) is imported where used: a preview served by the
# warm server (tools/preview_server.py) needs none of it in the calling process.
from .warm import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "build" / "preview"
# What a child needs beyond the SDKs: the program, its review and its rendering.
PROGRAM_MODULES = ("infra.program", "infra.config", "tools.engine", "tools.render", "tools.summary", "tools.review")
# Children at a time: every stack at once, up to twice the cores. n stacks of about equal work
# on c cores take about n/c stack-times when all run together and ceil(n/c) when c run at a
# time: three stacks on CI's 2 cores, 1.5 against 2 (the third stack ran alone, a core idle).
# The cap bounds memory: a child is about 190 MB resident, most of it shared with the parent.
WIDTH = max(1, min(8, 2 * (os.cpu_count() or 1)))


def preview_one(stack: str, out_root: Path, stack_file: Path | None) -> int:
    from .engine import run_program  # imports pulumi: only in the worker process
    from .render import write_preview
    from .stack_files import StackFileError, load_stack_config
    from .summary import format_summary, summarize

    try:
        config = load_stack_config(stack, stack_file)
    except StackFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    if stack_file is not None:
        os.environ["MLOPS_CONFIG_SOURCE"] = str(stack_file)
    try:
        warnings: list[str] = []
        records = run_program(stack, config, warnings)
    except SystemExit as exc:
        return int(exc.code or 0)
    # AWS's naming rules on the names the program declared: a name AWS refuses or that two
    # resources (or two stacks) would share stops the preview like a bad stack value.
    from .physical_names import check_names
    bad_names = check_names(records, stack, config)
    if bad_names:
        source = stack_file or f"stacks/Pulumi.{stack}.yaml"
        print("\n".join(f"{source}: {line}" for line in bad_names), file=sys.stderr)
        return 2
    out_dir = out_root / stack
    write_preview(records, out_dir)
    summary = summarize(records)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(format_summary(stack, summary))
    for line in warnings:
        print(f"  warning: {line}")
    # Policy pack verdict and monthly cost per component (tools/review.py); exit 3 on a
    # mandatory violation so `make preview` fails.
    from .review import review_stack
    review, failed = review_stack(stack, records, config, out_dir)
    print(review)
    if failed:
        print(f"{stack}: mandatory policy violation(s), listed above", file=sys.stderr)
        return 3
    return 0


def preview_many(stacks: list[str], out_root: Path) -> int:
    """Every stack from one warm process: the SDKs are imported once, then each stack runs in a
    forked child (the Pulumi runtime keeps global state per program run; a child starts from an
    untouched one). Output is printed in the order the stacks were named."""
    from .warm import preload, run_forked

    preload(REPO_ROOT, PROGRAM_MODULES)
    _warm_catalog(stacks)
    jobs = [lambda stack=stack: preview_one(stack, out_root, None) for stack in stacks]
    worst = 0
    for stack, outcome in zip(stacks, run_forked(jobs, width=min(WIDTH, len(stacks)))):
        sys.stdout.write(outcome.stdout)
        if outcome.code != 0:
            sys.stderr.write(outcome.stderr or f"{stack}: preview failed\n")
            worst = max(worst, outcome.code)
        elif outcome.stderr:
            sys.stderr.write(outcome.stderr)
    return worst


def _warm_catalog(stacks: list[str]) -> None:
    """Reads moto's EC2 catalog (instance types, each stack region's zones and offerings) once in
    the parent: every child's config validation and program use it, and decompressing it took
    about 0.4 s per stack. A stack file that cannot be read is left to its child to report."""
    from infra.config import ec2_catalog

    from .stack_files import StackFileError, load_stack_config

    ec2_catalog.instance_types()
    for stack in stacks:
        try:
            region = load_stack_config(stack, None).get("aws:region", "us-east-1")
        except StackFileError:
            continue
        ec2_catalog.region_zones(region)
        ec2_catalog.region_zone_ids(region)
        ec2_catalog.offered_in(region)


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.preview`: through this checkout's warm preview server when one answers
    (tools/preview_server.py), else here, starting one in the background for the next run."""
    from .preview_server import run_through_server, start_server

    argv = list(sys.argv[1:] if argv is None else argv)
    # The environment as the caller gave it: a program run below sets PULUMI_CONFIG.
    environment = dict(os.environ)
    try:
        served = run_through_server(argv)
    except OSError as exc:  # an unusable server folder: the preview itself does not need one
        print(f"tools.preview: no preview server ({exc}); previewing in this process", file=sys.stderr)
        return run_here(argv)
    if served is not None:
        return served
    code = run_here(argv)
    with contextlib.suppress(OSError):
        start_server(environment)
    return code


def run_here(argv: list[str]) -> int:
    """The preview itself, in this process (and its forked children)."""
    from .stack_files import available_stacks, stray_stack_files

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="*", help="default: every stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stack-file", type=Path, help="use this file instead of stacks/Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    stray = [] if args.stack_file else stray_stack_files()
    if stray:
        print("\n".join(stray), file=sys.stderr)
        return 2
    args.stacks = args.stacks or available_stacks()
    if len(args.stacks) == 1:
        # The same imports as the warm process, so the same collector pause and freeze
        # (tools/warm.py): a single stack's CPU went from 6.3-7.1 s to 3.5-4.8 s (user, loaded machine).
        from .warm import preload
        preload(REPO_ROOT, PROGRAM_MODULES)
        return preview_one(args.stacks[0], args.out, args.stack_file)
    if args.stack_file:
        parser.error("--stack-file goes with one stack")
    return preview_many(args.stacks, args.out)


if __name__ == "__main__":
    sys.exit(main())
