"""Pod- and container-level defaults every platform workload shares."""

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
