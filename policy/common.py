"""Helpers shared by the rules: rule registration, environment, tags, policy documents, pod specs.

Rules read `args.props`, the resource's camelCase inputs. Under the Pulumi CLI these are
pulumi-policy's unknown-checking proxies (Mapping / Sequence, raising UnknownValueError on a value
not known during preview); offline they are plain dicts and lists. Every helper here therefore
goes through the Mapping / Sequence interfaces and never `isinstance(x, dict)`."""
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY
ENVIRONMENTS = ("dev", "staging", "prod")
REQUIRED_TAGS = ("project", "environment", "owner", "cost-center")

# Policies whose verdict depends on the environment take it from policy config
# (`pulumi preview --policy-pack-config`, or the offline runner, which passes the stack's
# `mlops:environment`), else from the resource's or the stack's `environment` tag.
ENVIRONMENT_SCHEMA = PolicyConfigSchema(properties={
    "environment": {"type": "string", "enum": list(ENVIRONMENTS),
                    "description": "The stack's environment; defaults to the resources' `environment` tag."},
})


@dataclass(frozen=True)
class Rule:
    """What the offline report and the docs need besides the pulumi-policy object."""
    name: str
    enforcement: EnforcementLevel
    description: str
    kind: str  # "resource" | "stack"
    types: tuple[str, ...]


POLICIES: list = []  # pulumi-policy objects, in declaration order
RULES: dict[str, Rule] = {}


@dataclass(frozen=True)
class Ctx:
    """What a resource rule knows besides the resource's props."""
    resource_type: str
    name: str
    urn: str
    environment: str  # dev | staging | prod; "prod" when nothing says (the strictest reading)


def _register(rule: Rule, policy) -> None:
    if rule.name in RULES:
        raise ValueError(f"duplicate policy name {rule.name}")
    RULES[rule.name] = rule
    POLICIES.append(policy)


def resource_rule(name: str, description: str, enforcement: EnforcementLevel, types: Iterable[str]):
    """Decorates `check(props, ctx) -> Iterable[str]` (one message per violation) into a
    ResourceValidationPolicy over the given resource types."""
    types = tuple(types)

    def wrap(check: Callable[[Mapping[str, Any], Ctx], Iterable[str]]):
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if args.resource_type not in types:
                return
            ctx = Ctx(args.resource_type, args.name, args.urn,
                      resource_environment(args.get_config(), args.props))
            for message in check(args.props, ctx):
                report_violation(message, None)

        _register(Rule(name, enforcement, description, "resource", types),
                  ResourceValidationPolicy(name=name, description=description, validate=validate,
                                           enforcement_level=enforcement, config_schema=ENVIRONMENT_SCHEMA))
        return check
    return wrap


def stack_rule(name: str, description: str, enforcement: EnforcementLevel, types: Iterable[str] = ()):
    """Decorates `check(resources, environment) -> Iterable[(message, urn)]` into a
    StackValidationPolicy. `resources` are pulumi-policy PolicyResource objects."""
    types = tuple(types)

    def wrap(check):
        def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            env = stack_environment(args.get_config(), args.resources)
            for message, urn in check(args.resources, env):
                report_violation(message, urn)

        _register(Rule(name, enforcement, description, "stack", types),
                  StackValidationPolicy(name=name, description=description, validate=validate,
                                        enforcement_level=enforcement, config_schema=ENVIRONMENT_SCHEMA))
        return check
    return wrap


# --- reading props -----------------------------------------------------------------------

def get(obj: Any, path: str, default: Any = None) -> Any:
    """`get(props, "vpcConfig.endpointPublicAccess")`; the default where any step is missing."""
    for part in path.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return default
        obj = obj[part]
        if obj is None:
            return default
    return obj


def items(value: Any) -> list:
    """A list from a Sequence (not a string); [] for None; [value] for a lone value."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence):
        return [value[i] for i in range(len(value))]
    return [value]


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def known(fn: Callable[[], Any], default: Any = None) -> Any:
    """fn(), or `default` where it reads a value not known during preview."""
    try:
        return fn()
    except UnknownValueError:
        return default


def safely(resources: Iterable, fn: Callable[[Any], Iterable]) -> Iterable:
    """Runs fn per resource; one whose props are not known during preview is skipped (the CLI
    reports unknowns per resource policy; a stack policy must not die on one resource)."""
    for r in resources:
        try:
            yield from list(fn(r))
        except UnknownValueError:
            continue


# --- environment and tags ----------------------------------------------------------------

def _tag_environment(props: Any) -> str | None:
    env = get(props, "tags.environment")
    return env if env in ENVIRONMENTS else None


def resource_environment(config: Mapping[str, Any], props: Any) -> str:
    env = config.get("environment") if config else None
    if env in ENVIRONMENTS:
        return env
    try:
        return _tag_environment(props) or "prod"
    except UnknownValueError:
        return "prod"


def stack_environment(config: Mapping[str, Any], resources: Iterable) -> str:
    env = config.get("environment") if config else None
    if env in ENVIRONMENTS:
        return env
    seen: dict[str, int] = {}
    for r in resources:
        try:
            tag = _tag_environment(r.props)
        except UnknownValueError:
            continue
        if tag:
            seen[tag] = seen.get(tag, 0) + 1
    return max(seen, key=seen.get) if seen else "prod"


# --- IAM-style policy documents ------------------------------------------------------------

def policy_statements(document: Any) -> list[Mapping[str, Any]]:
    """Statements of a policy document given as JSON text or as a mapping."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, Mapping):
        return []
    return [s for s in items(document.get("Statement")) if isinstance(s, Mapping)]


def as_strings(value: Any) -> list[str]:
    return [v for v in items(value) if isinstance(v, str)]


# --- Kubernetes workloads ----------------------------------------------------------------

WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment",
)
SELDON = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"
# Long-running workloads: the ones that must answer probes.
SERVICE_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", SELDON)


@dataclass(frozen=True)
class PodSpec:
    where: str  # e.g. "spec.template.spec" or "predictor stable, componentSpecs[0]"
    spec: Mapping[str, Any]


def pod_specs(resource_type: str, props: Mapping[str, Any]) -> list[PodSpec]:
    if resource_type == SELDON:
        specs = []
        for p in items(get(props, "spec.predictors")):
            for i, cs in enumerate(items(get(p, "componentSpecs"))):
                spec = get(cs, "spec")
                if isinstance(spec, Mapping):
                    specs.append(PodSpec(f"predictor {get(p, 'name', '?')}, componentSpecs[{i}]", spec))
        return specs
    path = {
        "kubernetes:core/v1:Pod": "spec",
        "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    }.get(resource_type, "spec.template.spec")
    spec = get(props, path)
    return [PodSpec(path, spec)] if isinstance(spec, Mapping) else []


def containers(spec: Mapping[str, Any], init: bool = True) -> list[Mapping[str, Any]]:
    found = items(get(spec, "containers"))
    if init:
        found += items(get(spec, "initContainers"))
    return [c for c in found if isinstance(c, Mapping)]


def k8s_identity(props: Mapping[str, Any], fallback_name: str) -> tuple[str, str]:
    """(namespace, name) of a Kubernetes object; the provider's default namespace is `default`."""
    return get(props, "metadata.namespace", "default"), get(props, "metadata.name", fallback_name)
