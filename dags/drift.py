"""Per model file: the daily drift DAG. When the drift step finds drift it emits the model's
drift asset, which schedules training_<model> (dags/training.py).

drift_<model>: drift -> drift_detected (short-circuit) -> retrain (emits mlops://<model>/drift)

The drift step compares the CURRENT_DAYS before the run's day with the champion's training window
(its `raw`, `train_start`, `train_end` tags in the registry, found through MLFLOW_TRACKING_URI)
and writes {"drift_detected", "drift_share"} to --result-file, the task's XCom.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

# The helpers next to this file: Airflow 3.0.2 does not put the DAG folder on sys.path for every
# process that parses DAGs (dag.test() in a fresh process does not), so do not rely on it.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_files  # noqa: E402
import step_args  # noqa: E402
from pipeline_tasks import drift_asset, step  # noqa: E402

DAILY = "0 2 * * *"  # before the weekly training's 03:00, so a drifted Monday retrains once
# A week: every weekday once, so the weekly rhythm of the traffic is not read as drift.
CURRENT_DAYS = 7


def drift_dag(model: model_files.ModelFile) -> DAG:
    m = model.name
    with DAG(
        dag_id=f"drift_{m}",
        description=f"Compare {m}'s current window with its champion's training window; retrain on drift",
        schedule=CronTriggerTimetable(DAILY, timezone="UTC"),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["mlops", m, "drift"],
    ) as dag:
        check = step("drift", ["drift", "--model-name", m, "--raw", step_args.RAW,
                               "--current-start", step_args.day(-CURRENT_DAYS), "--current-end", step_args.day(0),
                               "--out", f"{step_args.WORK}/{m}/drift/{step_args.RUN}", *step_args.pushgateway()],
                     result=True)

        @task.short_circuit(task_id="drift_detected")
        def drift_detected(ti=None) -> bool:
            return bool((ti.xcom_pull(task_ids="drift") or {}).get("drift_detected"))

        @task(task_id="retrain", outlets=[drift_asset(m)])
        def retrain() -> str:
            return f"drift in {m}: training_{m} is scheduled by mlops://{m}/drift"

        check >> drift_detected() >> retrain()
    return dag


for _model in model_files.all_models():
    globals()[f"drift_{_model.name}"] = drift_dag(_model)
