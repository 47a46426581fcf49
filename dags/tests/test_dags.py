"""The DAGs: they import, their task graphs are the release pipeline of issue 13, and the one
task factory runs steps as pods in the cluster and as local processes on a laptop."""
from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from airflow.exceptions import AirflowException
from airflow.models.dagbag import DagBag
from airflow.sdk import Asset
from airflow.utils.dag_cycle_tester import check_cycle

import model_files
import pipeline_tasks
from conftest import DAGS, REPO

MODEL = "recsys"  # models/recsys.yaml
TRAINING_EDGES = {
    ("validate", "features"), ("features", "train"), ("train", "export"), ("export", "evaluate"),
    ("evaluate", "register"), ("register", "release_start"), ("release_start", "canary_analysis"),
    ("canary_analysis", "decide"), ("decide", "promote"),
    ("decide", "rollback"),
}


def edges(dag) -> set[tuple[str, str]]:
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def load(monkeypatch, runner: str | None = None) -> dict:
    """dag_id -> DAG parsed from the DAG folder (what the DAG processor does), import errors under None."""
    if runner:
        monkeypatch.setenv("PIPELINE_RUNNER", runner)
    monkeypatch.setenv("PIPELINE_IMAGE", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xyz-mlops-prod/pipeline:1.4.0")
    parsed = DagBag(dag_folder=str(DAGS), include_examples=False)
    return {**parsed.dags, None: parsed.import_errors}


@pytest.fixture(scope="module")
def bag():
    with pytest.MonkeyPatch.context() as patch:
        yield load(patch)


def test_the_dag_folder_imports_without_errors_or_cycles(bag):
    assert bag[None] == {}
    dags = {dag_id: dag for dag_id, dag in bag.items() if dag_id}
    assert set(dags) == {f"training_{MODEL}", f"drift_{MODEL}", f"release_rollback_{MODEL}"}
    for dag in dags.values():
        check_cycle(dag)  # raises on a cycle


def test_training_runs_the_pipeline_then_the_canary_release(bag):
    dag = bag[f"training_{MODEL}"]
    assert edges(dag) == TRAINING_EDGES
    assert len(dag.tasks) == 11
    assert dag.max_active_runs == 1
    # The analysis watches the window after release_start and may roll back at any of its checks.
    argv = dag.get_task("canary_analysis").arguments
    assert "--watch" in argv and int(argv[argv.index("--checks") + 1]) > 1
    assert "params.canary_window_minutes" in argv[argv.index("--window") + 1]


def test_training_is_weekly_and_triggered_by_drift(bag):
    dag = bag[f"training_{MODEL}"]
    assert dag.timetable.timetable._expression == "0 3 * * 1"
    assert [asset for _, asset in dag.timetable.asset_condition.iter_assets()] == [Asset(f"mlops://{MODEL}/drift")]


def test_drift_is_daily_and_emits_the_asset_training_waits_for(bag):
    dag = bag[f"drift_{MODEL}"]
    assert edges(dag) == {("drift", "drift_detected"), ("drift_detected", "retrain")}
    assert dag.timetable._expression == "0 2 * * *"
    assert dag.get_task("retrain").outlets == [Asset(f"mlops://{MODEL}/drift")]


def test_rollback_is_one_manual_task_with_a_reason(bag):
    dag = bag[f"release_rollback_{MODEL}"]
    assert dag.timetable.summary == "None"
    (task,) = dag.tasks
    assert task.arguments == ["release", MODEL, "rollback", "--reason", "{{ params.reason }}",
                              "--result-file", pipeline_tasks.XCOM_RESULT]
    assert dag.params["reason"]


# --- the cluster runner ----------------------------------------------------------------------

def test_steps_are_pods_of_the_pipeline_image_in_the_pipeline_namespace(bag):
    dag = bag[f"training_{MODEL}"]
    pods = [t for t in dag.tasks if t.task_type == "KubernetesPodOperator"]
    assert {t.task_id for t in pods} == {t.task_id for t in dag.tasks} - {"decide"}
    for pod in pods:
        assert (pod.namespace, pod.service_account_name) == ("pipeline", "pipeline")
        assert pod.image.endswith("/xyz-mlops-prod/pipeline:1.4.0")
        assert pod.cmds == ["python", "-m", "pipeline"]
        assert pod.env_vars["MLFLOW_AUTH_DIR"] == pipeline_tasks.MLFLOW_AUTH_DIR
        assert [m.mount_path for m in pod.volume_mounts] == [pipeline_tasks.MLFLOW_AUTH_DIR]
        assert pod.security_context.run_as_non_root
        assert pod.container_resources.requests["memory"] == pod.container_resources.limits["memory"]


def test_only_training_runs_on_the_gpu_node_group(bag):
    node_placement = importlib.import_module("components.node_placement")
    dag = bag[f"training_{MODEL}"]
    train = dag.get_task("train")
    assert train.node_selector == node_placement.GPU_NODES
    (toleration,) = train.tolerations
    taint = node_placement.GPU_TAINT
    assert (toleration.key, toleration.value, toleration.effect) == (taint["key"], taint["value"], "NoSchedule")
    assert train.container_resources.limits["nvidia.com/gpu"] == "1"
    for task in dag.tasks:
        if task.task_type == "KubernetesPodOperator" and task.task_id != "train":
            assert not task.node_selector and not task.tolerations, task.task_id
            assert "nvidia.com/gpu" not in task.container_resources.limits, task.task_id


def test_release_steps_return_their_result_as_xcom(bag):
    dag = bag[f"training_{MODEL}"]
    analysis = dag.get_task("canary_analysis")
    assert analysis.do_xcom_push and analysis.arguments[-2:] == ["--result-file", "/airflow/xcom/return.json"]
    assert analysis.arguments[:5] == ["release", MODEL, "analyze", "--slo-p99-ms", "100"]  # slo.p99LatencyMs
    assert analysis.retries == 6
    assert not dag.get_task("train").do_xcom_push


def test_the_gate_comes_from_the_model_file(bag, tmp_path):
    evaluate = bag[f"training_{MODEL}"].get_task("evaluate")
    assert evaluate.arguments[-2:] == ["--min-improvement", "0.02"]  # recsys.yaml sets no gates: the default
    training = importlib.import_module("training")
    (tmp_path / "fraud.yaml").write_text(
        "name: fraud\nslo: {p99LatencyMs: 50}\ngates: {minImprovement: 0.05}\ncanary: {trafficPercent: 5}\n")
    dag = training.training_dag(model_files.read(tmp_path / "fraud.yaml"))
    assert dag.get_task("evaluate").arguments[-2:] == ["--min-improvement", "0.05"]
    assert dag.get_task("canary_analysis").arguments[3:5] == ["--slo-p99-ms", "50"]


def test_a_model_file_without_an_slo_names_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\n")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'bad.yaml'}: needs name and slo.p99LatencyMs")):
        model_files.all_models(tmp_path)


def test_an_unknown_runner_is_refused(monkeypatch):
    monkeypatch.setenv("PIPELINE_RUNNER", "docker")
    with pytest.raises(ValueError, match="PIPELINE_RUNNER must be kubernetes or local"):
        pipeline_tasks.runner()


# --- the decision branch ----------------------------------------------------------------------

class _TI:
    def __init__(self, **xcoms):
        self.xcoms = xcoms

    def xcom_pull(self, task_ids):
        return self.xcoms.get(task_ids)


@pytest.mark.parametrize(("xcoms", "branch"), [
    ({"release_start": {"version": "2"}, "canary_analysis": {"decision": "promote"}}, "promote"),
    ({"release_start": {"version": "2"}, "canary_analysis": {"decision": "rollback"}}, "rollback"),
    ({"release_start": {"version": "2"}, "canary_analysis": {"decision": "wait"}}, "rollback"),
    ({"release_start": {"version": "2"}}, "rollback"),  # analysis failed: no evidence is not health
    ({}, None),  # no release started (a gate failed): touch nothing
])
def test_decide_promotes_only_on_a_promote_analysis(xcoms, branch):
    training = importlib.import_module("training")
    assert training.decide.function(ti=_TI(**xcoms)) == branch


# --- the laptop runner ------------------------------------------------------------------------

STAND_IN = textwrap.dedent('''
    """Stand-in for `python -m pipeline` (services/pipeline is another branch): records its argv."""
    import json, sys
    argv = sys.argv[1:]
    if argv[0] == "fail":
        print("features: s3://lake/clickstream/dt=2026-01-05 has no partitions", file=sys.stderr)
        sys.exit(2)
    if argv[0] == "wait":
        sys.exit(3)
    if "--result-file" in argv:
        with open(argv[argv.index("--result-file") + 1], "w") as out:
            json.dump({"argv": argv[:argv.index("--result-file")]}, out)
''')


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    package = tmp_path / "pipeline"
    package.mkdir()
    (package / "__main__.py").write_text(STAND_IN)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PIPELINE_PYTHON", sys.executable)


def test_the_local_runner_builds_the_same_dag_of_local_processes(monkeypatch):
    bag = load(monkeypatch, "local")
    assert bag[None] == {}
    dag = bag[f"training_{MODEL}"]
    assert edges(dag) == TRAINING_EDGES
    evaluate = dag.get_task("evaluate")
    assert evaluate.task_type == "PythonOperator"
    assert evaluate.op_kwargs["argv"][-2:] == ["--min-improvement", "0.02"]


def test_the_local_runner_runs_a_step_and_returns_its_result(stand_in):
    result = pipeline_tasks.run_local(["release", MODEL, "analyze", "--window", "5m"], result=True)
    assert result == {"argv": ["release", MODEL, "analyze", "--window", "5m"]}
    assert pipeline_tasks.run_local(["validate", "--model", MODEL]) is None


def test_the_local_runner_fails_the_task_with_the_steps_one_line(stand_in):
    with pytest.raises(AirflowException) as failed:
        pipeline_tasks.run_local(["fail"])
    assert str(failed.value) == "pipeline fail exited 2: features: s3://lake/clickstream/dt=2026-01-05 has no partitions"
    with pytest.raises(AirflowException, match="pipeline wait exited 3"):
        pipeline_tasks.run_local(["wait"], result=True)


def test_the_chart_runs_the_airflow_version_the_dags_are_tested_with():
    import airflow

    pinned = re.search(r'^AIRFLOW_VERSION = "([^"]+)"', (REPO / "components" / "airflow.py").read_text(), re.M)
    assert pinned and pinned[1] == airflow.__version__
    locked = re.search(r"^apache-airflow==(\S+)$", (DAGS / "requirements.txt").read_text(), re.M)
    assert locked[1] == airflow.__version__


DECIDING_STAND_IN = STAND_IN + textwrap.dedent('''
    if argv[0] == "release" and argv[2] == "analyze":
        with open(argv[argv.index("--result-file") + 1], "w") as out:
            json.dump({"decision": "promote"}, out)
''')


def test_the_training_dag_runs_end_to_end_with_the_local_runner(tmp_path):
    """dag.test(): every step through the local runner,
    the analysis' XCom read by the branch, which promotes and skips the rollback."""
    package = tmp_path / "stand-in" / "pipeline"
    package.mkdir(parents=True)
    (package / "__main__.py").write_text(DECIDING_STAND_IN)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "PIPELINE_RUNNER": "local",
           "PIPELINE_PYTHON": sys.executable, "PYTHONPATH": str(tmp_path / "stand-in")}
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=900)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    done = subprocess.run([sys.executable, str(DAGS / "tests" / "run_training_locally.py"), str(DAGS),
                           f"training_{MODEL}"], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    states = json.loads(done.stdout.strip().splitlines()[-1])
    assert states.pop("run") == "success"
    assert states.pop("rollback") == "skipped"
    assert states == {task: "success" for task in (
        "validate", "features", "train", "evaluate", "export", "register", "release_start",
        "canary_analysis", "decide", "promote")}
