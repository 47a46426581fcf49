"""Entry point of the policy pack for the Pulumi CLI:

    pulumi preview -s <stack> --policy-pack policy [--policy-pack-config policy/config.<env>.json]

Constructing PolicyPack starts the analyzer's gRPC server, so it happens here only; the rules
live in policy/pack.py, which the offline preview (tools/review.py) and the tests import."""
import sys
from pathlib import Path

# The CLI runs this file with policy/ as the working directory; the rules import as `policy.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.pack import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy sets its own level
    policies=POLICIES,
)
