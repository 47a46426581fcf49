"""Per model file: the training DAG (weekly, and whenever the drift DAG reports drift) that ends in
a canary release, and the one-click rollback DAG.

training_<model>:
  validate -> features -> train -> export -> evaluate -> register -> release_start
  -> canary_analysis (watches the canary through its window) -> decide -> promote | rollback

export comes before evaluate because the gate measures p99 latency on the exported ONNX, the
artifact that will be served. The data: training on the TRAIN_DAYS before the holdout, the
holdout being the HOLDOUT_DAYS before the run's day (which is still incomplete).
"""
from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.utils.trigger_rule import TriggerRule

# The helpers next to this file: Airflow 3.0.2 does not put the DAG folder on sys.path for every
# process that parses DAGs (dag.test() in a fresh process does not), so do not rely on it.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_files  # noqa: E402
import step_args  # noqa: E402
from pipeline_tasks import drift_asset, step  # noqa: E402

WEEKLY = "0 3 * * 1"  # Monday 03:00 UTC, the quietest hour of the shop's week
# The canary alert's window (observability/release_queries.py counts its minimum requests per 5m).
CANARY_WINDOW_MINUTES = 5
# Looks at a canary with too little traffic before giving up on it (and rolling it back): ~30 min.
ANALYSIS_RETRIES = 6
# A window shorter than this holds too few 1 s scrapes for rate() to mean anything.
CANARY_WINDOW_MIN_SECONDS = 10
# The window as a PromQL duration, from either param.
CANARY_WINDOW = ("{% if params.canary_window_seconds %}{{ params.canary_window_seconds }}s"
                 "{% else %}{{ params.canary_window_minutes }}m{% endif %}")
# The canary is analysed at every tenth of its window and rolled back at the first check that
# calls for it (pipeline/release/analysis.py): 30 s into a 5-minute window at the earliest, so
# detection and rollback fit the seed's 8-minute recovery with room for the registry poll.
CANARY_CHECKS = 10
START = datetime(2026, 1, 1)
# Four weeks of behaviour to learn from, the following week held out for HR@10: whole weeks, so
# both windows see every weekday (the shop's traffic is weekly).
TRAIN_DAYS, HOLDOUT_DAYS = 28, 7


def training_dag(model: model_files.ModelFile) -> DAG:
    m = model.name
    with DAG(
        dag_id=f"training_{m}",
        description=f"Retrain {m}, gate it, release it as a {model.canary_percent}% canary, promote or roll back",
        schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(WEEKLY, timezone="UTC"), assets=drift_asset(m)),
        start_date=START,
        catchup=False,
        max_active_runs=1,  # one release of a model at a time: two would fight over the aliases
        params={"canary_window_minutes": Param(CANARY_WINDOW_MINUTES, type="integer", minimum=1),
                # The local loop (`make demo`) judges canaries over seconds; unset, the minutes apply.
                "canary_window_seconds": Param(None, type=["null", "integer"], minimum=CANARY_WINDOW_MIN_SECONDS)},
        tags=["mlops", m, "training"],
    ) as dag:
        run = f"{step_args.WORK}/{m}/{step_args.RUN}"
        features_dir = f"{step_args.FEATURES}/{m}/{step_args.RUN}"
        train_start, train_end = step_args.day(-(TRAIN_DAYS + HOLDOUT_DAYS)), step_args.day(-HOLDOUT_DAYS)
        onnx, model_dir = f"{run}/model.onnx", f"{run}/model"
        validation, evaluation = f"{run}/validation.json", f"{run}/evaluation.json"
        validate = step("validate", ["validate", "--raw", step_args.RAW, "--start", train_start, "--end", train_end,
                                     "--report", validation])
        features = step("features", ["features", "--raw", step_args.RAW, "--train-start", train_start,
                                     "--train-end", train_end, "--holdout-end", step_args.day(0),
                                     "--out", features_dir])
        train = step("train", ["train", "--interactions", f"{features_dir}/interactions.parquet", "--out", model_dir,
                               "--model-name", m, *step_args.pushgateway()], gpu=True)
        export = step("export", ["export", "--model", model_dir, "--out", onnx, "--model-name", m])
        evaluate = step("evaluate", ["evaluate", "--features", features_dir, "--onnx", onnx,
                                     "--validation", validation, "--report", evaluation, "--model-name", m,
                                     "--p99-ms", str(model.slo_p99_ms),
                                     "--min-improvement", f"{model.min_improvement:g}"])
        register = step("register", ["register", "--model-name", m, "--onnx", onnx, "--evaluation", evaluation,
                                     "--validation", validation, "--features", features_dir, "--model", model_dir,
                                     "--artifact-root", step_args.ARTIFACT_ROOT])
        start = step("release_start", ["release", m, "start"], result=True)
        # Runs through the window (--watch: the window after release_start), so a bad canary is
        # rolled back at a check, not after the whole window; a small pod polling Prometheus
        # rather than a deferred sensor, since the decision needs the checks. A retry (too little
        # traffic) looks at the window ending then.
        analysis = step("canary_analysis",
                        ["release", m, "analyze", "--slo-p99-ms", str(model.slo_p99_ms),
                         "--window", CANARY_WINDOW, "--checks", str(CANARY_CHECKS), "--watch"],
                        result=True, retries=ANALYSIS_RETRIES, retry_delay=timedelta(minutes=CANARY_WINDOW_MINUTES))
        promote = step("promote", ["release", m, "promote"], result=True)
        rollback = step("rollback", ["release", m, "rollback"], result=True)
        decision = decide()
        validate >> features >> train >> export >> evaluate >> register >> start >> analysis
        analysis >> decision >> [promote, rollback]
    return dag


@task.branch(task_id="decide", trigger_rule=TriggerRule.ALL_DONE)
def decide(ti=None) -> str | None:
    """promote when the analysis said so; rollback otherwise (it failed, or the canary never got
    enough traffic to be judged: no evidence is not health); nothing when no release started."""
    if not ti.xcom_pull(task_ids="release_start"):
        return None
    analysis = ti.xcom_pull(task_ids="canary_analysis") or {}
    return "promote" if analysis.get("decision") == "promote" else "rollback"


def rollback_dag(model: model_files.ModelFile) -> DAG:
    """One click: Trigger DAG (optionally with a reason) returns the canary to the champion."""
    with DAG(
        dag_id=f"release_rollback_{model.name}",
        description=f"Roll back {model.name}'s canary: challenger <- champion, the bad version tagged",
        schedule=None,
        start_date=START,
        catchup=False,
        params={"reason": Param("rolled back by hand from Airflow", type="string", minLength=1)},
        tags=["mlops", model.name, "release"],
    ) as dag:
        step("rollback", ["release", model.name, "rollback", "--reason", "{{ params.reason }}"], result=True)
    return dag


for _model in model_files.all_models():
    globals()[f"training_{_model.name}"] = training_dag(_model)
    globals()[f"release_rollback_{_model.name}"] = rollback_dag(_model)
