"""Runs training_<model> once with `dag.test()` and the local runner; prints {task_id: state} as JSON.

A separate process (test_dags.py starts it) so that its Airflow home, database and
PIPELINE_RUNNER=local do not leak into the other tests.
"""
import json
import sys

from airflow.models.dagbag import DagBag

dags_folder, dag_id = sys.argv[1], sys.argv[2]
bag = DagBag(dag_folder=dags_folder, include_examples=False)
assert not bag.import_errors, bag.import_errors
run = bag.dags[dag_id].test(run_conf={"canary_window_minutes": 1})
print(json.dumps({"run": run.state, **{ti.task_id: ti.state for ti in run.get_task_instances()}}))
