"""One `dag.test()` run of a repository DAG, in the DAG venv (Airflow 3.0.2), printing one JSON line:
{"run": state, "tasks": {task_id: state}, "asset_events": [...], "queued": [target dag ids]}.

  dags/.venv/bin/python demo/airflow_run.py <dag_id> <run_after ISO 8601> [--tasks a,b,c] [--conf JSON]

`asset_events` are the assets this run emitted and `queued` the DAGs the scheduler would now
start because of them (asset_dag_run_queue): the demo runs no scheduler, so the loop reads the
queue and starts what is queued itself, at the moment the scheduler would.

One Execution API serves every task of the run, as the API server does in the cluster: Airflow
3.0.2's dag.test() builds a new in-process Execution API app for each task
(supervisor.in_process_api_server), about 0.8-1.0 s of CPU each on this machine (Cadwyn generates
its versioned routes per app), so a ten-task training run spent ~9 s building the same app.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from datetime import datetime
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dag_id")
    parser.add_argument("run_after")
    parser.add_argument("--tasks", help="comma-separated: run only these tasks (no upstream)")
    parser.add_argument("--conf", default="{}", help="the run's conf (the DAG's params)")
    args = parser.parse_args()

    share_one_execution_api()
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dagbag import DagBag
    from airflow.utils.session import create_session

    bag = DagBag(dag_folder=str(DAGS), include_examples=False)
    if bag.import_errors:
        sys.exit(f"DAG import errors: {bag.import_errors}")
    # Every DAG in the database, as the DAG processor keeps them: an asset event queues only
    # DAGs the database knows to be scheduled on that asset.
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    bag.sync_to_db(bundle_name="dags-folder", bundle_version=None)
    dag = bag.dags[args.dag_id]
    if args.tasks:
        dag = dag.partial_subset(args.tasks.split(","), include_upstream=False)
    at = datetime.fromisoformat(args.run_after)
    run = dag.test(logical_date=at, run_after=at, run_conf=json.loads(args.conf))
    with create_session() as session:
        events = [uri for (uri,) in session.query(AssetModel.uri).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
                  .filter(AssetEvent.source_run_id == run.run_id)]
        queued = sorted(dag_id for (dag_id,) in session.query(AssetDagRunQueue.target_dag_id))
    print(json.dumps({"run": run.state, "tasks": {ti.task_id: ti.state for ti in run.get_task_instances()},
                      "asset_events": events, "queued": queued}))


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
