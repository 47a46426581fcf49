"""Every pipeline task's command line, rendered as Airflow would for a run, is accepted by the
REAL pipeline CLI's argument parsers (services/pipeline), and the files one step writes are the
files the next one reads.

The parsers are the steps' own `add_arguments` (and the release controller's `_parser`), imported
from services/pipeline. Their modules import numpy, polars, boto3... at the top, which the Airflow
image (and this venv) does not have; they are stand-ins only while the modules import, and no
step code runs: only argparse definitions are used.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from airflow.models.dagbag import DagBag
from airflow.sdk.execution_time.context import MacrosAccessor

import pipeline_tasks
import step_args
from conftest import DAGS, REPO

MODEL = "recsys"  # models/recsys.yaml: slo.p99LatencyMs 100, gates.minImprovement 0.02
PIPELINE = REPO / "services" / "pipeline"
STEPS = ("generate", "validate", "features", "train", "export", "evaluate", "register", "drift")
# Imported by the step modules at the top, absent from the Airflow image.
HEAVY = ("numpy", "polars", "pyarrow", "pyarrow.parquet", "pyarrow.compute", "boto3", "botocore",
         "botocore.exceptions", "pandera", "pandera.polars", "onnx", "onnxruntime", "prometheus_client",
         "mlflow", "torch", "evidently")
VARIABLES = {"mlops_raw_lake": "s3://raw-bucket/lake", "mlops_features": "s3://features-bucket/features",
             "mlops_artifact_root": "s3://mlflow-bucket", "mlops_work": "s3://pipeline-bucket"}
RUN_AFTER = datetime(2026, 3, 9, 3, 0, tzinfo=timezone.utc)  # a Monday's weekly run
PUSHGATEWAY = "http://pushgateway.monitoring:9091"


class ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # pipeline/__main__.py's parser exits 2 here; a test wants the message
        raise ArgumentError(f"{self.prog}: {message}")


@pytest.fixture(scope="module")
def parsers() -> dict:
    """step -> the real parser of `python -m pipeline <step>`, and "release" -> the release controller's."""
    stand_ins = {name: mock.MagicMock(name=name) for name in HEAVY if importlib.util.find_spec(name.split(".")[0]) is None}
    built = {}
    with mock.patch.dict(sys.modules, stand_ins), mock.patch.object(sys, "path", [str(PIPELINE), *sys.path]):
        for name in STEPS:
            module = importlib.import_module(f"pipeline.steps.{name}")
            assert Path(module.__file__).is_relative_to(PIPELINE)  # the real package, not a stand-in
            parser = _Parser(prog=f"pipeline {name}")
            module.add_arguments(parser)
            built[name] = parser
        release_cli = importlib.import_module("pipeline.release.cli")
        built["release"] = release_cli._parser()
        refused = release_cli.ReleaseRefused
    # patch.dict put sys.modules back: the next import of `pipeline` is not this one.
    return {"parsers": built, "refused": refused}


def parse(parsers: dict, argv: list[str]) -> argparse.Namespace:
    """argv as `python -m pipeline` gets it; ArgumentError with argparse's message when refused."""
    if argv[0] == "release":
        try:
            return parsers["parsers"]["release"].parse_args(argv[1:])
        except parsers["refused"] as refused:
            raise ArgumentError(str(refused)) from None
    assert argv[0] in STEPS, argv
    return parsers["parsers"][argv[0]].parse_args(argv[1:])


class _Variables:
    def get(self, key, default=None):
        return VARIABLES[key]  # KeyError: a DAG reads a Variable this test does not know


@pytest.fixture(scope="module")
def dags():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUSHGATEWAY_URL", PUSHGATEWAY)
        patch.delenv("PIPELINE_RUNNER", raising=False)
        parsed = DagBag(dag_folder=str(DAGS), include_examples=False)
    assert parsed.import_errors == {}
    return parsed.dags


def rendered(task, dag) -> list[str]:
    """The pod's arguments with the templates filled for a run scheduled at RUN_AFTER."""
    dag_run = mock.Mock(run_after=RUN_AFTER, run_id=f"scheduled__{RUN_AFTER.isoformat()}")
    context = {"dag_run": dag_run, "run_id": dag_run.run_id, "macros": MacrosAccessor(),
               "var": {"value": _Variables()}, "params": {name: dag.params[name] for name in dag.params}}
    return task.render_template(task.arguments, context)


def pipeline_tasks_of(dag) -> list:
    return [task for task in dag.tasks if task.task_type == "KubernetesPodOperator"]


def test_every_pipeline_task_of_every_dag_parses_with_the_real_cli(dags, parsers):
    checked = []
    for dag in dags.values():
        for task in pipeline_tasks_of(dag):
            argv = rendered(task, dag)
            assert not [arg for arg in argv if "{{" in arg or "{%" in arg], (task.task_id, argv)
            parse(parsers, argv)
            checked.append((dag.dag_id, task.task_id))
    # training: validate .. register (6) + release start, analysis, promote, rollback; drift: 1; rollback DAG: 1
    assert len(checked) == 12, checked
    assert {dag_id for dag_id, _ in checked} == {f"training_{MODEL}", f"drift_{MODEL}", f"release_rollback_{MODEL}"}


@pytest.mark.parametrize("argv", [
    # What the DAGs passed before the steps' arguments were checked against the CLI.
    ["validate", "--model", MODEL, "--lake", "s3://lake", "--window-end", "2026-03-09"],
    ["features", "--model", MODEL, "--lake", "s3://lake", "--window-end", "2026-03-09", "--out", "s3://w"],
    ["train", "--model", MODEL, "--work", "s3://w"],
    ["evaluate", "--model", MODEL, "--work", "s3://w", "--min-improvement", "0.02"],
    ["drift", "--model", MODEL, "--lake", "s3://lake", "--window-end", "2026-03-09", "--result-file", "/x.json"],
    ["release", MODEL, "analyze", "--window", "5m"],  # --slo-p99-ms is required
    ["release", MODEL, "deploy"],
])
def test_arguments_the_cli_does_not_have_are_refused(parsers, argv):
    with pytest.raises(ArgumentError):
        parse(parsers, argv)


def args_of(dags, parsers, dag_id: str) -> dict[str, argparse.Namespace]:
    dag = dags[dag_id]
    return {task.task_id: parse(parsers, rendered(task, dag)) for task in pipeline_tasks_of(dag)}


def test_training_reads_what_the_step_before_wrote(dags, parsers):
    a = args_of(dags, parsers, f"training_{MODEL}")
    assert a["train"].interactions == f"{a['features'].out}/interactions.parquet"
    assert a["export"].model == a["train"].out == a["register"].model
    assert a["evaluate"].onnx == a["export"].out == a["register"].onnx
    assert a["evaluate"].validation == a["validate"].report == a["register"].validation
    assert a["evaluate"].features == a["features"].out == a["register"].features
    assert a["register"].evaluation == a["evaluate"].report
    # One run's files under the run's own prefix, in the buckets the Variables name.
    run = RUN_AFTER.strftime("%Y%m%dT%H%M%S")
    assert a["features"].out == f"{VARIABLES['mlops_features']}/{MODEL}/{run}"
    assert a["train"].out.startswith(f"{VARIABLES['mlops_work']}/{MODEL}/{run}/")
    assert a["validate"].raw == a["features"].raw == VARIABLES["mlops_raw_lake"]
    assert a["register"].artifact_root == VARIABLES["mlops_artifact_root"]
    distinct = [a["train"].out, a["export"].out, a["validate"].report, a["evaluate"].report]
    assert len(set(distinct)) == len(distinct)


def test_training_window_and_holdout_end_at_the_run_day(dags, parsers):
    a = args_of(dags, parsers, f"training_{MODEL}")
    day = date.fromisoformat
    training = importlib.import_module("training")
    # The holdout ends (exclusive) at the run's day, whose data is incomplete, and directly
    # follows the training window; validate checks exactly the training window.
    assert day(a["features"].holdout_end) == RUN_AFTER.date()
    assert day(a["features"].holdout_end) - day(a["features"].train_end) == timedelta(days=training.HOLDOUT_DAYS)
    assert day(a["features"].train_end) - day(a["features"].train_start) == timedelta(days=training.TRAIN_DAYS)
    assert (a["validate"].start, a["validate"].end) == (a["features"].train_start, a["features"].train_end)
    assert training.HOLDOUT_DAYS >= 1 and training.TRAIN_DAYS >= 1


def test_gates_come_from_the_model_file_and_metrics_go_to_the_pushgateway(dags, parsers):
    a = args_of(dags, parsers, f"training_{MODEL}")
    assert (a["evaluate"].min_improvement, a["evaluate"].p99_ms) == (0.02, 100.0)  # gates.minImprovement, slo.p99LatencyMs
    assert a["canary_analysis"].slo_p99_ms == 100.0
    assert {a[t].model_name for t in ("train", "export", "evaluate", "register")} == {MODEL}
    assert a["train"].pushgateway == PUSHGATEWAY
    assert (a["release_start"].model, a["release_start"].action) == (MODEL, "start")
    assert a["canary_analysis"].result_file == Path(pipeline_tasks.XCOM_RESULT)


def test_drift_compares_the_week_before_the_run_day_and_returns_its_result(dags, parsers):
    (drift,) = args_of(dags, parsers, f"drift_{MODEL}").values()
    assert drift.model_name == MODEL and drift.raw == VARIABLES["mlops_raw_lake"]
    assert date.fromisoformat(drift.current_end) == RUN_AFTER.date()
    assert date.fromisoformat(drift.current_end) - date.fromisoformat(drift.current_start) == timedelta(days=7)
    # No reference window given: the step takes the champion's training window from the registry.
    assert drift.reference_start is None and drift.reference_end is None
    assert drift.out.startswith(f"{VARIABLES['mlops_work']}/{MODEL}/drift/")
    assert drift.result_file == Path(pipeline_tasks.XCOM_RESULT)
    assert drift.pushgateway == PUSHGATEWAY


def test_no_pushgateway_argument_without_the_url(monkeypatch):
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    assert step_args.pushgateway() == []
    monkeypatch.setenv("PUSHGATEWAY_URL", PUSHGATEWAY)
    assert step_args.pushgateway() == ["--pushgateway", PUSHGATEWAY]


@pytest.mark.parametrize(("params", "window"), [
    ({}, "5m"),  # the cluster: the canary alert's 5-minute window
    ({"canary_window_seconds": 20}, "20s"),  # the local loop (`make demo`)
])
def test_canary_window_is_minutes_unless_seconds_are_given(dags, params, window):
    dag = dags[f"training_{MODEL}"]
    analysis = next(t for t in pipeline_tasks_of(dag) if t.task_id == "canary_analysis")
    started = datetime(2026, 3, 9, 3, 0, tzinfo=timezone.utc)
    context = {"params": {**{name: dag.params[name] for name in dag.params}, **params},
               "ti": mock.Mock(start_date=started), "macros": MacrosAccessor()}
    argv = analysis.render_template(analysis.arguments, context)
    assert argv[argv.index("--window") + 1] == window


@pytest.mark.parametrize(("seconds", "accepted"), [(None, True), (10, True), (9, False), ("20", False)])
def test_canary_window_seconds_below_ten_are_refused(dags, seconds, accepted):
    # Fewer than ~10 one-second scrapes leave rate() without a trend to read.
    from airflow.exceptions import ParamValidationError

    param = dags[f"training_{MODEL}"].params.get_param("canary_window_seconds")
    if accepted:
        assert param.resolve(seconds) == seconds
    else:
        with pytest.raises(ParamValidationError):
            param.resolve(seconds)
