"""Kubernetes rules: container resources and security context, probes, image tags, Helm pins,
serving availability in prod, and the seed's deployment checklist (canary traffic)."""
import re
from collections.abc import Mapping

from .common import (
    ADVISORY, MANDATORY, SELDON, SERVICE_TYPES, WORKLOAD_TYPES, as_strings, containers, get, is_true,
    items, k8s_identity, known, pod_specs, resource_rule, safely, stack_rule,
)

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"

# System DaemonSets that legitimately need the node: host network/PID, privileged, root.
# (namespace, name). Anything else asking for these is refused.
SYSTEM_DAEMONSETS = frozenset({
    ("kube-system", "aws-node"),
    ("kube-system", "kube-proxy"),
    ("kube-system", "ebs-csi-node"),
    ("kube-system", "eks-pod-identity-agent"),
    ("kube-system", "nvidia-device-plugin"),
    ("kube-system", "nvidia-device-plugin-daemonset"),
    ("monitoring", "node-exporter"),
    ("monitoring", "kube-prometheus-stack-prometheus-node-exporter"),
    ("istio-system", "istio-cni-node"),
})
# Namespaces whose Deployments / StatefulSets / HPAs serve model traffic; SeldonDeployments
# are serving wherever they live.
SERVING_NAMESPACES = frozenset({"serving", "seldon", "models"})
SERVING_LABELS = {"platform.xyz/tier": "serving", "app.kubernetes.io/component": "serving"}
PROD_MIN_REPLICAS = 3
CANARY_MAX_TRAFFIC = 10  # the seed's checklist: a canary starts at 10% or less


def _allow_listed(ctx, props) -> bool:
    return ctx.resource_type == DAEMONSET and k8s_identity(props, ctx.name) in SYSTEM_DAEMONSETS


def _each_container(ctx, props, init=True):
    for pod in pod_specs(ctx.resource_type, props):
        for c in containers(pod.spec, init=init):
            yield pod, c


@resource_rule("k8s-requests-limits", "Every container declares CPU and memory requests and a memory limit.",
               MANDATORY, WORKLOAD_TYPES)
def requests_limits(props, ctx):
    for pod, c in _each_container(ctx, props):
        res = get(c, "resources") or {}
        missing = [k for k in ("requests.cpu", "requests.memory", "limits.memory") if not get(res, k)]
        if missing:
            yield f"{pod.where}: container {get(c, 'name', '?')} has no resources.{', resources.'.join(missing)}"


@resource_rule("k8s-non-root", "Containers run as a non-root user (system DaemonSets on the allow-list excepted).",
               MANDATORY, WORKLOAD_TYPES)
def non_root(props, ctx):
    if _allow_listed(ctx, props):
        return
    for pod in pod_specs(ctx.resource_type, props):
        pod_ctx = get(pod.spec, "securityContext") or {}
        for c in containers(pod.spec):
            sc = get(c, "securityContext") or {}
            non_root = get(sc, "runAsNonRoot", get(pod_ctx, "runAsNonRoot"))
            uid = get(sc, "runAsUser", get(pod_ctx, "runAsUser"))
            if uid == 0 or non_root is False or not (is_true(non_root) or (isinstance(uid, int) and uid > 0)):
                yield f"{pod.where}: container {get(c, 'name', '?')} must set runAsNonRoot: true (or a non-zero runAsUser)"


@resource_rule("k8s-no-privileged", "No privileged containers outside the system DaemonSet allow-list.",
               MANDATORY, WORKLOAD_TYPES)
def no_privileged(props, ctx):
    if _allow_listed(ctx, props):
        return
    for pod, c in _each_container(ctx, props):
        if is_true(get(c, "securityContext.privileged")):
            yield f"{pod.where}: container {get(c, 'name', '?')} is privileged"
        added = as_strings(get(c, "securityContext.capabilities.add"))
        if "SYS_ADMIN" in added or "ALL" in added:
            yield f"{pod.where}: container {get(c, 'name', '?')} adds capability {', '.join(added)}"


@resource_rule("k8s-no-host-namespaces", "No hostNetwork, hostPID or hostIPC outside the system DaemonSet allow-list.",
               MANDATORY, WORKLOAD_TYPES)
def no_host_namespaces(props, ctx):
    if _allow_listed(ctx, props):
        return
    for pod in pod_specs(ctx.resource_type, props):
        used = [k for k in ("hostNetwork", "hostPID", "hostIPC") if is_true(get(pod.spec, k))]
        if used:
            yield f"{pod.where}: {', '.join(used)} must not be used"


@resource_rule("k8s-no-privilege-escalation", "Containers set allowPrivilegeEscalation: false.", ADVISORY, WORKLOAD_TYPES)
def no_privilege_escalation(props, ctx):
    if _allow_listed(ctx, props):
        return
    for pod, c in _each_container(ctx, props):
        if get(c, "securityContext.allowPrivilegeEscalation") is not False:
            yield f"{pod.where}: container {get(c, 'name', '?')} should set allowPrivilegeEscalation: false"


@resource_rule("k8s-read-only-root-fs", "Containers mount their root filesystem read-only where possible.",
               ADVISORY, WORKLOAD_TYPES)
def read_only_root_fs(props, ctx):
    if _allow_listed(ctx, props):
        return
    for pod, c in _each_container(ctx, props):
        if not is_true(get(c, "securityContext.readOnlyRootFilesystem")):
            yield f"{pod.where}: container {get(c, 'name', '?')} should set readOnlyRootFilesystem: true (emptyDir for scratch)"


@resource_rule("k8s-readiness-probe", "Long-running containers have a readiness probe.", MANDATORY, SERVICE_TYPES)
def readiness_probe(props, ctx):
    for pod, c in _each_container(ctx, props, init=False):
        if not get(c, "readinessProbe"):
            yield f"{pod.where}: container {get(c, 'name', '?')} has no readinessProbe: traffic would reach it before it is ready"


@resource_rule("k8s-liveness-probe", "Long-running containers have a liveness probe.", ADVISORY, SERVICE_TYPES)
def liveness_probe(props, ctx):
    for pod, c in _each_container(ctx, props, init=False):
        if not get(c, "livenessProbe"):
            yield f"{pod.where}: container {get(c, 'name', '?')} should have a livenessProbe"


def _image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (means latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the latest tag"
    return None


@resource_rule("k8s-no-latest-tag", "Images are pinned by tag or digest, never `latest`.", MANDATORY, WORKLOAD_TYPES)
def no_latest_tag(props, ctx):
    for pod, c in _each_container(ctx, props):
        image = get(c, "image")
        if isinstance(image, str):
            problem = _image_problem(image)
            if problem:
                yield f"{pod.where}: container {get(c, 'name', '?')} image {image} {problem}"


_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


@resource_rule("helm-chart-pinned", "Helm releases pin an exact chart version from an https or OCI repository.",
               MANDATORY, [HELM_RELEASE])
def helm_chart_pinned(props, ctx):
    version = get(props, "version")
    if not isinstance(version, str) or not _EXACT_VERSION.match(version):
        yield f"version must be an exact chart version (got {version!r})"
    repo = get(props, "repositoryOpts.repo") or ""
    chart = get(props, "chart") or ""
    if not (repo.startswith("https://") or str(chart).startswith("oci://") or repo.startswith("oci://")):
        yield f"the chart must come from an https or oci repository (got {repo or chart!r})"


# ---------------------------------------------------------------- Seldon: the seed's checklist

def _predictors(props):
    return [p for p in items(get(props, "spec.predictors")) if isinstance(p, Mapping)]


def _is_canary(predictor) -> bool:
    return str(get(predictor, "name", "")).startswith("canary")


@resource_rule("seldon-canary-traffic", f"A canary predictor starts at {CANARY_MAX_TRAFFIC}% of traffic or less.",
               MANDATORY, [SELDON])
def canary_traffic(props, ctx):
    for p in _predictors(props):
        traffic = get(p, "traffic", 0)
        if _is_canary(p) and not is_true(get(p, "shadow")) and isinstance(traffic, (int, float)) and traffic > CANARY_MAX_TRAFFIC:
            yield f"predictor {get(p, 'name')} takes {traffic}% of traffic; a canary may take at most {CANARY_MAX_TRAFFIC}%"


@resource_rule("seldon-traffic-total", "The traffic of a SeldonDeployment's live predictors adds up to 100%.",
               MANDATORY, [SELDON])
def traffic_total(props, ctx):
    live = [p for p in _predictors(props) if not is_true(get(p, "shadow"))]
    if len(live) > 1:
        total = sum(get(p, "traffic", 0) or 0 for p in live)
        if total != 100:
            split = ", ".join(f"{get(p, 'name')}={get(p, 'traffic', 0)}" for p in live)
            yield f"predictor traffic adds up to {total}%, not 100% ({split})"


# ---------------------------------------------------------------- serving availability in prod (stack)

def _labels_match(selector, labels) -> bool:
    match = get(selector, "matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def _serving_workloads(resources):
    """(resource, namespace, name, [(where, pod labels, component spec or None)]) of each serving
    workload; Seldon canaries are left out (a canary is meant to be small). A resource whose
    props are not known during preview is skipped."""
    return list(safely(resources, lambda r: list(_serving_workload(r))))


def _serving_workload(r):
    if r.resource_type == SELDON:
        ns, name = k8s_identity(r.props, r.name)
        parts = []
        for p in _predictors(r.props):
            if _is_canary(p):
                continue
            for i, cs in enumerate(items(get(p, "componentSpecs"))):
                labels = {"seldon-deployment-id": name, "seldon-app": f"{name}-{get(p, 'name')}",
                          **(get(cs, "metadata.labels") or {})}
                parts.append((f"predictor {get(p, 'name')}, componentSpecs[{i}]", labels, cs))
        yield r, ns, name, parts
    elif r.resource_type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
        ns, name = k8s_identity(r.props, r.name)
        labels = get(r.props, "spec.template.metadata.labels") or {}
        meta_labels = get(r.props, "metadata.labels") or {}
        if ns in SERVING_NAMESPACES or any(meta_labels.get(k) == v or labels.get(k) == v for k, v in SERVING_LABELS.items()):
            yield r, ns, name, [("spec.template", labels, None)]


@stack_rule("k8s-serving-pdb-prod", "In prod every serving workload has a PodDisruptionBudget.", MANDATORY, (SELDON, PDB))
def serving_pdb(resources, env):
    if env != "prod":
        return
    pdbs = list(safely([r for r in resources if r.resource_type == PDB],
                       lambda r: [(k8s_identity(r.props, r.name)[0], get(r.props, "spec.selector"))]))

    def one(w):
        r, ns, name, parts = w
        for where, labels, cs in parts:
            if cs is not None and get(cs, "pdbSpec"):
                continue
            if not any(pns == ns and _labels_match(sel, labels) for pns, sel in pdbs):
                yield f"{ns}/{name} {where}: no PodDisruptionBudget selects its pods (Seldon: set pdbSpec)", r.urn
    yield from safely(_serving_workloads(resources), one)


@stack_rule("k8s-serving-hpa-min-prod", f"In prod serving autoscales with at least {PROD_MIN_REPLICAS} replicas.",
            MANDATORY, (SELDON, HPA))
def serving_hpa_min(resources, env):
    if env != "prod":
        return
    hpas = [r for r in resources if r.resource_type == HPA]

    def one(w):
        r, ns, name, parts = w
        for where, labels, cs in parts:
            if cs is not None:
                low = get(cs, "hpaSpec.minReplicas", 1 if get(cs, "hpaSpec") else None)
                if low is None:
                    yield f"{ns}/{name} {where}: no hpaSpec (prod serving autoscales, min {PROD_MIN_REPLICAS})", r.urn
                elif low < PROD_MIN_REPLICAS:
                    yield f"{ns}/{name} {where}: hpaSpec.minReplicas is {low}, prod needs >= {PROD_MIN_REPLICAS}", r.urn
                continue
            kind = "StatefulSet" if r.resource_type.endswith("StatefulSet") else "Deployment"
            mine = [h for h in hpas if known(lambda: k8s_identity(h.props, h.name)[0] == ns
                    and get(h.props, "spec.scaleTargetRef.kind") == kind and get(h.props, "spec.scaleTargetRef.name") == name)]
            if not mine:
                yield f"{ns}/{name}: no HorizontalPodAutoscaler targets it (prod serving autoscales, min {PROD_MIN_REPLICAS})", r.urn
            for h in mine:
                low = get(h.props, "spec.minReplicas", 1)
                if low < PROD_MIN_REPLICAS:
                    yield f"{ns}/{name}: HPA minReplicas is {low}, prod needs >= {PROD_MIN_REPLICAS}", h.urn
    yield from safely(_serving_workloads(resources), one)
