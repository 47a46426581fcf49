"""Runs the pack's own validation functions over an offline preview, without the CLI.

Each record (`resources.json` entry or preview record: urn, type, name, parent, inputs) becomes
the pulumi-policy argument objects the analyzer would build, so a rule cannot behave differently
here and under `pulumi preview --policy-pack policy`."""
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from .common import ENVIRONMENTS, MANDATORY, RULES
from .pack import POLICIES


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str  # mandatory | advisory
    urn: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
                                 parent=parent)


def _is_component(record: Mapping[str, Any]) -> bool:
    if "custom" in record:
        return not record["custom"]
    return record["type"].split(":")[0] not in _PROVIDER_PACKAGES


# Packages whose resources are custom (provider-managed); anything else is a component.
_PROVIDER_PACKAGES = {"aws", "kubernetes", "random", "pagerduty", "tls", "command", "pulumi"}


def evaluate(records: Iterable[Mapping[str, Any]], environment: str | None = None,
             policies: Iterable | None = None) -> list[Violation]:
    # Sorted by URN: a program registers resources in a different order from run to run.
    records = sorted((r for r in records if not _is_component(r) and not r["type"].startswith("pulumi:providers:")),
                     key=lambda r: r["urn"])
    config = {"environment": environment} if environment in ENVIRONMENTS else {}
    by_urn = {r["urn"]: PolicyResource(r["type"], r.get("inputs") or {}, r["urn"], r["name"], _options(r.get("parent")),
                                       None, None, [], {}) for r in records}
    for r in records:
        by_urn[r["urn"]].parent = by_urn.get(r.get("parent"))
    violations: list[Violation] = []
    for policy in policies if policies is not None else POLICIES:
        level = "mandatory" if RULES[policy.name].enforcement == MANDATORY else "advisory"

        def report(message: str, urn: str | None = None, _p=policy.name, _l=level, _u=None) -> None:
            violations.append(Violation(_p, _l, urn or _u, message))

        if isinstance(policy, ResourceValidationPolicy):
            # A resource rule returns at once for a type it does not cover (policy/common.py's
            # resource_rule), so only its types get the argument objects the analyzer builds:
            # 54 rules by ~5,600 resources is a second of a 200-model preview otherwise.
            types = RULES[policy.name].types
            for r in (r for r in records if r["type"] in types):
                args = ResourceValidationArgs(r["type"], r.get("inputs") or {}, r["urn"], r["name"],
                                              _options(r.get("parent")), None, config)
                policy.validate(args, lambda message, urn=None, _r=r["urn"]: report(message, _r))
        else:
            policy.validate(StackValidationArgs(list(by_urn.values()), config), report)
    return violations
