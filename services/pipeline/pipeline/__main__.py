"""`python -m pipeline <step> [args]`: each step is a module with `add_arguments` and `main`.

Exit codes: 0 done; 2 bad input (one line naming the input, the value and what is allowed);
3 a check the step owns failed (a release gate, export parity, data quality): reports were
written, the line says which check and its measured value.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import BAD_INPUT_EXIT, GATE_EXIT, BadInput, GateFailed

STEPS = ("generate", "validate", "features", "train", "export", "evaluate", "register", "drift")
USAGE = f"usage: python -m pipeline {{{','.join(STEPS)},release}} [--help] ..."


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + message; we want one line and exit 2
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(BAD_INPUT_EXIT)


def _release(argv: list[str]) -> int:
    # The release controller lives in its own subpackage (pipeline/release/); imported only
    # when asked for, so the other steps run without it.
    try:
        from .release.cli import main as release_main
    except ImportError as exc:
        print(f"pipeline release: the release controller is not installed in this image ({exc})", file=sys.stderr)
        return BAD_INPUT_EXIT
    return release_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 0 if argv else BAD_INPUT_EXIT
    step, rest = argv[0], argv[1:]
    if step == "release":
        return _release(rest)
    if step not in STEPS:
        print(f"pipeline: unknown step {step!r}; allowed: {', '.join(STEPS)}, release", file=sys.stderr)
        return BAD_INPUT_EXIT
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    module = importlib.import_module(f"pipeline.steps.{step}")
    parser = _Parser(prog=f"pipeline {step}", description=module.__doc__)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        module.main(args)
    except BadInput as exc:
        print(f"pipeline {step}: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    except GateFailed as exc:
        print(f"pipeline {step}: {exc}", file=sys.stderr)
        return GATE_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
