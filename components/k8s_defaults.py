"""Pod- and container-level defaults every platform workload shares."""
import pulumi
import pulumi_kubernetes as k8s

# Non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp: the Kubernetes
# "restricted" Pod Security profile.
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def restricted_pod(uid: int = 10001) -> dict:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def zone_spread(labels: dict[str, str], strict: bool) -> list[dict]:
    # Strict in HA environments: a zone outage must leave replicas in the other zones.
    return [{
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule" if strict else "ScheduleAnyway",
        "labelSelector": {"matchLabels": labels},
    }]


def namespace_scope(resource_name: str, namespace: str, opts: pulumi.ResourceOptions,
                    labels: dict[str, str] | None = None) -> pulumi.ResourceOptions:
    """Declares the namespace (never Helm's create_namespace: the preview shows every object)
    and returns the options for objects inside it, which wait for it."""
    created = k8s.core.v1.Namespace(resource_name, metadata={"name": namespace, **({"labels": labels} if labels else {})},
                                    opts=opts)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[created]))


# Pod Security admission levels, strictest first (kubernetes.io/docs/concepts/security/pod-security-standards).
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")


# Every model-serving namespace carries this label; the platform's NetworkPolicies admit model
# pods by it rather than by listing namespaces, so onboarding a model changes no other object.
# Labelling a namespace takes cluster-admin rights: the label is as strong as the namespace list.
MODEL_NAMESPACE_LABELS = {"platform.xyz/workload": "model-serving"}


def pod_security_labels(enforce: str) -> dict[str, str]:
    """Namespace labels that enforce `enforce` and warn and audit against `restricted`, so a
    namespace held at baseline still reports what keeps it from restricted."""
    if enforce not in POD_SECURITY_LEVELS:
        raise ValueError(f"Pod Security level must be one of {', '.join(POD_SECURITY_LEVELS)} (got {enforce!r})")
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
