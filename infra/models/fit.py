"""Does a model's pod fit on a node of the environment that would host it?

A pod whose requests exceed every node's allocatable stays Pending forever while `pulumi up`
reports success, so a model that cannot be scheduled is refused before anything is declared.

Pod = the model container (requests and limits of the model file) plus what every predictor pod
gets beside it: Seldon's executor (components/model_deployment.py, svcOrchSpec) and the Istio
sidecar (components/serving_mesh.py, proxy resources); tests/test_model_fit.py checks these
figures against the preview. Node = allocatable of the instance type (ec2_catalog: EKS's
kube-reserved and eviction formula), not its raw size. DaemonSet requests are not subtracted:
they vary with add-on versions, so the check is a floor (what is refused surely cannot run).
"""
import sys

from infra.config.ec2_catalog import instance_types

from .schema import ModelSpec, cpu_cores, memory_mib

# Requests of the executor (500m / 512Mi) and the Istio proxy (100m / 128Mi) in every model pod.
SIDECAR_MILLICORES = 500 + 100
SIDECAR_MEMORY_MIB = 512 + 128


def fit_problems(models: list[ModelSpec], environment: str, node_types: list[str]) -> list[str]:
    """One line per model that fits no node of `node_types` (the system group, where models run)."""
    nodes = [instance_types()[t] for t in node_types]
    best_cpu = max(n.allocatable_millicores for n in nodes)
    best_mem = max(n.allocatable_memory_mib for n in nodes)
    shown = ", ".join(f"{n.name}: {n.allocatable_millicores}m CPU, {n.allocatable_memory_mib}Mi allocatable" for n in nodes)
    lines = []
    for m in models:
        source = f"models/{m.name}.yaml"
        if int(cpu_cores(m.resources.cpu) * 1000) + SIDECAR_MILLICORES > best_cpu:
            lines.append(f"{source}: resources.cpu must fit a {environment} node with the executor and sidecar "
                         f"({SIDECAR_MILLICORES}m) beside it ({shown}) (got {m.resources.cpu})")
        # A limit above what any node can give is never reached: the model is sized for a machine
        # it cannot get (its worker count follows the CPU it believes it has).
        limit = m.resources.limits.cpu
        if limit is not None and int(cpu_cores(limit) * 1000) > best_cpu:
            lines.append(f"{source}: resources.limits.cpu must be at most a {environment} node's allocatable CPU ({shown}) (got {limit})")
        if memory_mib(m.resources.memory) + SIDECAR_MEMORY_MIB > best_mem:
            lines.append(f"{source}: resources.memory must fit a {environment} node with the executor and sidecar "
                         f"({SIDECAR_MEMORY_MIB}Mi) beside it ({shown}) (got {m.resources.memory})")
    return lines


def fit_or_exit(models: list[ModelSpec], environment: str, node_types: list[str]) -> None:
    """Like load_models_or_exit: the lines on stderr, exit 2."""
    lines = fit_problems(models, environment, node_types)
    if lines:
        print("\n".join(lines), file=sys.stderr)
        sys.exit(2)

