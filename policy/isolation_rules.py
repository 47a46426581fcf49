"""Isolation rules: default-deny traffic and Pod Security admission in every namespace, no pod
launching into a namespace admission does not guard, Pod Identity trust tied to its service
account by the session tags, and CloudWatch log groups under a customer key."""
from collections.abc import Mapping

from .common import MANDATORY, as_strings, get, items, k8s_identity, policy_statements, resource_rule, safely, stack_rule

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
IAM_ROLE = "aws:iam/role:Role"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
# `privileged` is no guard: a namespace at that level admits anything.
GUARDING_LEVELS = ("restricted", "baseline")
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
SESSION_TAGS = ("aws:RequestTag/eks-cluster-name", "aws:RequestTag/kubernetes-namespace",
                "aws:RequestTag/kubernetes-service-account")
# Charts that start pods through their own RBAC (Airflow's KubernetesExecutor and pod
# launcher): their release namespace must be guarded like a Role that creates pods.
POD_LAUNCHING_CHARTS = ("airflow",)


def _labels(props) -> Mapping:
    labels = get(props, "metadata.labels") or {}
    return labels if isinstance(labels, Mapping) else {}


@resource_rule("k8s-namespace-pod-security", "Every namespace enforces a Pod Security level (restricted or baseline).",
               MANDATORY, [NAMESPACE])
def namespace_pod_security(props, ctx):
    level = _labels(props).get(PSA_ENFORCE)
    if level not in GUARDING_LEVELS:
        yield (f"namespace {get(props, 'metadata.name', ctx.name)}: label {PSA_ENFORCE} must be restricted or baseline "
               f"(got {level or 'none'})")


def _is_default_deny(props) -> bool:
    spec = get(props, "spec") or {}
    selector = get(spec, "podSelector")
    empty_selector = isinstance(selector, Mapping) and not get(selector, "matchLabels") and not get(selector, "matchExpressions")
    types = set(as_strings(get(spec, "policyTypes")))
    return empty_selector and {"Ingress", "Egress"} <= types and not items(get(spec, "ingress")) and not items(get(spec, "egress"))


@stack_rule("k8s-namespace-default-deny", "Every namespace has a NetworkPolicy denying all ingress and egress by default.",
            MANDATORY, (NAMESPACE, NETWORK_POLICY))
def namespace_default_deny(resources, env):
    denied = set(safely([r for r in resources if r.resource_type == NETWORK_POLICY],
                        lambda r: [k8s_identity(r.props, r.name)[0]] if _is_default_deny(r.props) else []))

    def one(ns):
        name = get(ns.props, "metadata.name", ns.name)
        if name not in denied:
            yield (f"namespace {name} has no default-deny NetworkPolicy (podSelector {{}}, policyTypes Ingress and Egress, "
                   "no rules)"), ns.urn
    yield from safely([r for r in resources if r.resource_type == NAMESPACE], one)


def _launches_pods(props) -> bool:
    for rule in items(get(props, "rules")):
        resources = set(as_strings(get(rule, "resources")))
        verbs = set(as_strings(get(rule, "verbs")))
        groups = set(as_strings(get(rule, "apiGroups")))
        if (resources & {"pods", "*"}) and (verbs & {"create", "*"}) and (groups & {"", "*"}):
            return True
    return False


@stack_rule("k8s-pod-launch-needs-pod-security",
            "RBAC that lets a workload create pods (and charts that do) only in namespaces enforcing restricted or baseline; "
            "never cluster-wide.", MANDATORY, (ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING, HELM_RELEASE, NAMESPACE))
def pod_launch_needs_pod_security(resources, env):
    guarded = set(safely([r for r in resources if r.resource_type == NAMESPACE],
                         lambda r: [get(r.props, "metadata.name", r.name)] if _labels(r.props).get(PSA_ENFORCE) in GUARDING_LEVELS else []))
    launching_roles = set(safely([r for r in resources if r.resource_type == ROLE],
                                 lambda r: [k8s_identity(r.props, r.name)] if _launches_pods(r.props) else []))
    launching_cluster_roles = set(safely([r for r in resources if r.resource_type == CLUSTER_ROLE],
                                         lambda r: [get(r.props, "metadata.name", r.name)] if _launches_pods(r.props) else []))

    def one(r):
        if r.resource_type == ROLE and _launches_pods(r.props):
            ns, name = k8s_identity(r.props, r.name)
            if ns not in guarded:
                yield f"Role {ns}/{name} creates pods in namespace {ns}, which enforces no Pod Security level", r.urn
        elif r.resource_type in (ROLE_BINDING, CLUSTER_ROLE_BINDING):
            ns, name = k8s_identity(r.props, r.name)
            kind, role = get(r.props, "roleRef.kind"), get(r.props, "roleRef.name")
            if kind == "ClusterRole" and role in launching_cluster_roles:
                if r.resource_type == CLUSTER_ROLE_BINDING:
                    yield f"ClusterRoleBinding {name} lets its subjects create pods in every namespace", r.urn
                elif ns not in guarded:
                    yield f"RoleBinding {ns}/{name} grants pod creation in {ns}, which enforces no Pod Security level", r.urn
            elif kind == "Role" and (ns, role) in launching_roles and ns not in guarded:
                yield f"RoleBinding {ns}/{name} grants pod creation in {ns}, which enforces no Pod Security level", r.urn
        elif r.resource_type == HELM_RELEASE and get(r.props, "chart") in POD_LAUNCHING_CHARTS:
            ns = get(r.props, "namespace", "default")
            if get(r.props, "values.allowPodLaunching", True) is not False and ns not in guarded:
                yield (f"Helm release {get(r.props, 'name', r.name)} ({get(r.props, 'chart')}) launches pods in {ns}, "
                       "which enforces no Pod Security level"), r.urn
    yield from safely(resources, one)


@resource_rule("iam-pod-identity-trust-session-tags",
               "Roles trusting EKS Pod Identity require its session tags: cluster, namespace and service account.",
               MANDATORY, [IAM_ROLE])
def pod_identity_trust_session_tags(props, ctx):
    for s in policy_statements(get(props, "assumeRolePolicy")):
        principal = s.get("Principal")
        services = as_strings(principal.get("Service")) if isinstance(principal, Mapping) else []
        if s.get("Effect") != "Allow" or POD_IDENTITY_SERVICE not in services:
            continue
        condition = s.get("Condition") or {}
        keys = {k for op in ("StringEquals", "StringLike") for k in (get(condition, op) or {})}
        missing = [t for t in SESSION_TAGS if t not in keys]
        if missing:
            yield (f"assumeRolePolicy lets {POD_IDENTITY_SERVICE} assume the role without conditions on {', '.join(missing)}: "
                   "any Pod Identity association in the account could use it")


@resource_rule("log-group-kms", "CloudWatch log groups are encrypted with a customer-managed KMS key.", MANDATORY, [LOG_GROUP])
def log_group_kms(props, ctx):
    if not get(props, "kmsKeyId"):
        yield f"log group {get(props, 'name', ctx.name)} has no kmsKeyId: logs must be encrypted with a customer-managed key"
