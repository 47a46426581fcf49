"""The task factory: one DAG definition whose steps run as pods of the pipeline image in the
cluster and as local `python -m pipeline ...` processes on a laptop.

PIPELINE_RUNNER=kubernetes (default): a KubernetesPodOperator per step, in namespace `pipeline`
with service account `pipeline` (its Pod Identity role reaches the lake and MLflow's bucket),
the training step on the GPU node group. PIPELINE_RUNNER=local: the same command line as a
subprocess of the Airflow worker (PIPELINE_PYTHON picks the interpreter, default this one).

A step that has a result (the release commands, drift) writes it as JSON to --result-file:
/airflow/xcom/return.json in a pod (the operator's XCom sidecar reads it), a temporary file
locally; either way it becomes the task's XCom.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow.exceptions import AirflowException
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import Asset

NAMESPACE = "pipeline"
SERVICE_ACCOUNT = "pipeline"
KUBERNETES, LOCAL = "kubernetes", "local"
# components/node_placement.py's vocabulary (the DAG image cannot import the Pulumi program;
# dags/tests checks the two stay equal).
GPU_NODES = {"nvidia.com/gpu.present": "true"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
XCOM_RESULT = "/airflow/xcom/return.json"
MLFLOW_AUTH_SECRET, MLFLOW_AUTH_DIR = "mlflow-auth", "/var/run/secrets/mlflow"
# Passed from the Airflow deployment's environment to every step.
PASSED_ENV = ("MLFLOW_TRACKING_URI", "PUSHGATEWAY_URL", "PROMETHEUS_URL", "AWS_REGION", "AWS_DEFAULT_REGION")
# Requests and limits per kind of step: training holds the GPU, the rest are light.
RESOURCES = {
    "default": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
    "gpu": {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
            "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"}},
}

log = logging.getLogger(__name__)


def runner() -> str:
    """The runner this process builds tasks for: $PIPELINE_RUNNER, kubernetes by default."""
    chosen = os.environ.get("PIPELINE_RUNNER", KUBERNETES)
    if chosen not in (KUBERNETES, LOCAL):
        raise ValueError(f"PIPELINE_RUNNER must be {KUBERNETES} or {LOCAL} (got {chosen})")
    return chosen


def drift_asset(model: str) -> Asset:
    """The asset the drift DAG emits when it finds drift, and the training DAG is scheduled on."""
    return Asset(f"mlops://{model}/drift")


def step(task_id: str, argv: list[str], *, gpu: bool = False, result: bool = False, **operator_kwargs):
    """A task running `python -m pipeline <argv...>` with the configured runner.

    argv: the step's arguments, Jinja-templated (e.g. "{{ ds }}"); gpu: run on the GPU node group
    with one GPU; result: the step writes JSON to --result-file and it becomes the XCom.
    """
    if runner() == LOCAL:
        return PythonOperator(task_id=task_id, python_callable=run_local,
                              op_kwargs={"argv": list(argv), "result": result}, **operator_kwargs)
    return _pod(task_id, list(argv), gpu=gpu, result=result, **operator_kwargs)


def run_local(argv: list[str], result: bool = False):
    """Runs the step as a subprocess; its JSON result (if any) is returned, so it becomes the XCom.

    Raises AirflowException with the step's last stderr line on a non-zero exit (exit 3 of
    `release analyze`, "wait", too: the task's retries are the next looks at the canary).
    """
    python = os.environ.get("PIPELINE_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="pipeline-step-") as work:
        result_file = Path(work) / "result.json"
        command = [python, "-m", "pipeline", *argv, *(["--result-file", str(result_file)] if result else [])]
        log.info("running %s", " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True)
        for stream in (done.stdout, done.stderr):
            if stream.strip():
                log.info("%s", stream.rstrip())
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise AirflowException(f"pipeline {argv[0]} exited {done.returncode}: {last}")
        return json.loads(result_file.read_text()) if result else None


def _pod(task_id: str, argv: list[str], *, gpu: bool, result: bool, **operator_kwargs):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    resources = RESOURCES["gpu" if gpu else "default"]
    placement = {}
    if gpu:
        placement = {"node_selector": dict(GPU_NODES), "tolerations": [k8s.V1Toleration(**GPU_TOLERATION)]}
    return KubernetesPodOperator(
        task_id=task_id,
        name=f"pipeline-{task_id.replace('_', '-')}",
        namespace=NAMESPACE,
        service_account_name=SERVICE_ACCOUNT,
        image=os.environ.get("PIPELINE_IMAGE", "pipeline:1.0.0"),
        cmds=["python", "-m", "pipeline"],
        arguments=[*argv, *(["--result-file", XCOM_RESULT] if result else [])],
        env_vars={**{name: os.environ[name] for name in PASSED_ENV if name in os.environ},
                  "MLFLOW_AUTH_DIR": MLFLOW_AUTH_DIR},
        volumes=[k8s.V1Volume(name="mlflow-auth", secret=k8s.V1SecretVolumeSource(secret_name=MLFLOW_AUTH_SECRET))],
        volume_mounts=[k8s.V1VolumeMount(name="mlflow-auth", mount_path=MLFLOW_AUTH_DIR, read_only=True)],
        container_resources=k8s.V1ResourceRequirements(requests=resources["requests"], limits=resources["limits"]),
        security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=10001,
                                                  seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False, capabilities=k8s.V1Capabilities(drop=["ALL"])),
        do_xcom_push=result,
        get_logs=True,
        on_finish_action="delete_pod",
        **placement,
        **operator_kwargs,
    )
