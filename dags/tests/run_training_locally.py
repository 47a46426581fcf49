"""Runs training_<model> once with `dag.test()` and the local runner; prints {task_id: state} as JSON.

A separate process (test_dags.py starts it) so that its Airflow home, database and
PIPELINE_RUNNER=local do not leak into the other tests.
"""
import json
import sys
from pathlib import Path

from airflow.models.dagbag import DagBag

# One in-process Execution API for all the run's tasks, as the demo runs its DAGs: dag.test()
# builds one per task otherwise, about 0.9 s of CPU each (demo/airflow_run.py says why).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from demo.airflow_run import share_one_execution_api  # noqa: E402

share_one_execution_api()
dags_folder, dag_id = sys.argv[1], sys.argv[2]
bag = DagBag(dag_folder=dags_folder, include_examples=False)
assert not bag.import_errors, bag.import_errors
run = bag.dags[dag_id].test(run_conf={"canary_window_minutes": 1})
print(json.dumps({"run": run.state, **{ti.task_id: ti.state for ti in run.get_task_instances()}}))
