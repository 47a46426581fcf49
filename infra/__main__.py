"""Program entry: `pulumi up -s <stack>` runs this file, and so does the offline preview."""
import os
import sys
from pathlib import Path

# Pulumi runs `main: infra/` with infra/ on sys.path; the components live beside it.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import pulumi  # noqa: E402

from infra.config import ConfigError, load_platform_config  # noqa: E402
from infra.config.source import stack_config  # noqa: E402
from infra.program import build_platform  # noqa: E402


def main() -> None:
    stack = pulumi.get_stack()
    # The offline preview may read a stack file kept elsewhere and names it in errors.
    source = os.environ.get("MLOPS_CONFIG_SOURCE", f"stacks/Pulumi.{stack}.yaml")
    try:
        cfg = load_platform_config(stack_config(), source)
    except ConfigError as exc:
        # One line per problem and nothing declared: a bad stack file never half-applies.
        print("\n".join(exc.lines), file=sys.stderr)
        sys.exit(2)
    try:
        build_platform(cfg)
    except ConfigError as exc:
        # Facts only the running program sees (the region's zones): same one-line form, exit 2.
        print("\n".join(f"{source}: {line}" for line in exc.lines), file=sys.stderr)
        sys.exit(2)


main()
