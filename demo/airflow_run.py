"""The demo's `dag.test()` runs of the repository's DAGs, in the DAG venv (Airflow 3.0.2).

  dags/.venv/bin/python demo/airflow_run.py        (requests on stdin, answers on stdout)

Airflow is imported and the DAG folder parsed and synced once; then each line on stdin,
{"dag_id", "run_after" (ISO 8601), "tasks" (run only these, no upstream; null for all), "conf",
"log"}, is one run whose output (Airflow's task logs, the steps' output) goes to the file `log`,
answered by one JSON line on stdout: {"run": state, "tasks": {task_id: state}, "asset_events":
[...], "queued": [target dag ids]}, or {"error": "<one line>"} when the run raised or the request
was bad. A process per run spent about 4.5 s of CPU of its 6-8 s importing Airflow and parsing the
DAGs again (2026-11-30); the demo makes five runs.

`asset_events` are the assets the run emitted and `queued` the DAGs the scheduler would now
start because of them (asset_dag_run_queue): the demo runs no scheduler, so the loop reads the
queue and starts what is queued itself, at the moment the scheduler would.

One Execution API serves every task, as the API server does in the cluster: Airflow 3.0.2's
dag.test() builds a new in-process Execution API app for each task
(supervisor.in_process_api_server), about 0.8-1.0 s of CPU each on this machine (Cadwyn generates
its versioned routes per app), so a ten-task training run spent ~9 s building the same app.
"""
from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"


def main() -> None:
    # stdout carries the answers and nothing else: Airflow logs to stdout as it starts.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(prepare(), answers)


def prepare():
    """Imports Airflow, parses the DAG folder and syncs it to the database (the DAG processor's
    part: an asset event queues only DAGs the database knows to be scheduled on that asset)."""
    share_one_execution_api()
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS), include_examples=False)
    if bag.import_errors:
        sys.exit(f"DAG import errors: {bag.import_errors}")
    DagBundlesManager().sync_bundles_to_db()
    bag.sync_to_db(bundle_name="dags-folder", bundle_version=None)
    return bag


def run(bag, dag_id: str, at: datetime, tasks: list[str] | None, conf: dict) -> dict:
    """One dag.test() run of `dag_id` at `at` (run_after and logical date); the result document."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session

    if dag_id not in bag.dags:
        raise LookupError(f"no DAG {dag_id!r} in {DAGS} (there are {', '.join(sorted(bag.dags))})")
    dag = bag.dags[dag_id]
    if tasks:
        dag = dag.partial_subset(tasks, include_upstream=False)
    result = dag.test(logical_date=at, run_after=at, run_conf=conf)
    with create_session() as session:
        events = [uri for (uri,) in session.query(AssetModel.uri).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
                  .filter(AssetEvent.source_run_id == result.run_id)]
        queued = sorted(dag_id for (dag_id,) in session.query(AssetDagRunQueue.target_dag_id))
    return {"run": result.state, "tasks": {ti.task_id: ti.state for ti in result.get_task_instances()},
            "asset_events": events, "queued": queued}


def serve(bag, answers) -> None:
    """Runs each request read from stdin; answers each with one JSON line on `answers` (a text
    file; the module's docstring says what the lines hold)."""
    quiet = os.dup(2)  # between runs, output goes where this process's stderr went
    for line in sys.stdin:
        try:
            request = json.loads(line)
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            answers.write(json.dumps({"error": f"bad request: {type(exc).__name__}: {exc}"}) + "\n")
            answers.flush()
            continue
        _point_output_at(log)
        os.close(log)
        try:
            result = run(bag, request["dag_id"], datetime.fromisoformat(request["run_after"]), request.get("tasks"),
                         request.get("conf") or {})
        except Exception as exc:  # noqa: BLE001 - the run's failure is the caller's to report
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        finally:
            _point_output_at(quiet)
        answers.write(json.dumps(result) + "\n")
        answers.flush()


def _point_output_at(fd: int) -> None:
    # At the descriptor level: Airflow's log handlers hold sys.stdout and sys.stderr.
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)


def share_one_execution_api() -> None:
    """Makes dag.test()'s tasks share one in-process Execution API (see the module's docstring).

    `_api_client` looks `in_process_api_server` up in the supervisor module at each task; the
    first call builds the API and later calls return it. A later Airflow without the function
    keeps its own behaviour."""
    from airflow.sdk.execution_time import supervisor

    build = getattr(supervisor, "in_process_api_server", None)
    if build is not None and not hasattr(build, "cache_info"):
        supervisor.in_process_api_server = functools.cache(build)


if __name__ == "__main__":
    main()
