"""The MLflow tracking server's container as every stack declares it (components/mlflow.py)."""
from preview_run import one


def _server_env(resources) -> dict[str, str | None]:
    spec = one(resources, "kubernetes:apps/v1:Deployment", "mlflow-server")["inputs"]["spec"]["template"]["spec"]
    [container] = [c for c in spec["containers"] if c["name"] == "mlflow"]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_server_starts_no_job_runner(stacks):
    # With a database backend MLflow 3.x starts a job runner and huey consumers next to the web
    # workers unless told not to; the 1 GiB container runs the tracking API only.
    for stack, resources in stacks.items():
        assert _server_env(resources).get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION") == "false", stack
