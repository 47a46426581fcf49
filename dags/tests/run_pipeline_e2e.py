"""The training DAG's pipeline tasks (validate .. register, release_start) run with the local
runner against the REAL pipeline (`python -m pipeline` of services/pipeline's venv) on a tiny
synthetic lake in moto S3 (server mode), a real `mlflow server` and Pushgateway. Prints {task_id: state} and
the evaluation report's gates as JSON. Then, the challenger promoted by hand, drift_<model> on
the same (undrifted) lake: drift runs, finds none, and the short-circuit skips retrain.
Exits 1 unless every state is that.

Not part of `make test-dags` (it needs the pipeline's venv: torch, polars, mlflow):
  dags/.venv/bin/python dags/tests/run_pipeline_e2e.py services/pipeline/.venv/bin/python

The canary tasks after release_start are left out: they wait on live traffic in Prometheus.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1]
REPO = DAGS.parent
sys.path.insert(0, str(REPO / "services" / "pipeline" / "tests"))
import servers  # noqa: E402  (services/pipeline/tests/servers.py: stdlib only)

PIPELINE_TASKS = ["validate", "features", "train", "export", "evaluate", "register", "release_start"]
RUN_AFTER = datetime(2026, 3, 9, 3, 0, tzinfo=timezone.utc)  # a Monday's weekly run
# Small, like services/pipeline/tests' lake: 35 days (28 trained, 7 held out) on 2 shared cores.
LAKE = ["--users", "800", "--items", "150", "--events-per-day", "1200", "--segments", "6", "--seed", "11"]


def main(pipeline_python: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="pipeline-e2e-"))
    bin_dir = Path(pipeline_python).parent
    port = servers.free_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1",
           "GIT_PYTHON_REFRESH": "quiet", "SCARF_ANALYTICS": "false"}
    moto = servers.Process([str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], work, env, "moto")
    started = [moto]
    try:
        servers.wait_until(lambda: moto.alive() and servers.http_ok(f"http://127.0.0.1:{port}/moto-api/"), "moto")
        pipeline_env = {**os.environ, **env, "PYTHONPATH": f"{REPO / 'services' / 'pipeline'}:{REPO}"}
        subprocess.run([pipeline_python, "-c", "import boto3\nfor b in ('lake-raw', 'lake-features', 'mlflow-artifacts',"
                        " 'pipeline-work'): boto3.client('s3').create_bucket(Bucket=b)"], env=pipeline_env, check=True)
        first_day = (RUN_AFTER - timedelta(days=35)).date().isoformat()
        subprocess.run([pipeline_python, "-m", "pipeline", "generate", "--raw", "s3://lake-raw", "--start", first_day,
                        "--days", "35", *LAKE], env=pipeline_env, check=True)
        mlflow_port = servers.free_port()
        mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        mlflow = servers.Process([pipeline_python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
                                  str(mlflow_port), "--workers", "1", "--backend-store-uri",
                                  f"sqlite:///{work / 'mlflow.db'}", "--default-artifact-root",
                                  "s3://mlflow-artifacts/experiments", "--no-serve-artifacts"], work, env, "mlflow")
        started.append(mlflow)
        servers.wait_until(lambda: mlflow.alive() and servers.http_ok(f"{mlflow_url}/health"), "mlflow", 480)
        pushgateway, pushgateway_url = servers.pushgateway(work)
        started.append(pushgateway)
        airflow_env = {**os.environ, **env, "PUSHGATEWAY_URL": pushgateway_url,
                       "AIRFLOW_HOME": str(work / "airflow"), "PIPELINE_RUNNER": "local",
                       "PIPELINE_PYTHON": pipeline_python, "PYTHONPATH": f"{REPO / 'services' / 'pipeline'}:{REPO}",
                       "MLFLOW_TRACKING_URI": mlflow_url, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                       "AIRFLOW_VAR_MLOPS_RAW_LAKE": "s3://lake-raw",
                       "AIRFLOW_VAR_MLOPS_FEATURES": "s3://lake-features/features",
                       "AIRFLOW_VAR_MLOPS_ARTIFACT_ROOT": "s3://mlflow-artifacts",
                       "AIRFLOW_VAR_MLOPS_WORK": "s3://pipeline-work"}
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=airflow_env, check=True,
                       capture_output=True)
        states = _dag_test(airflow_env, "training_recsys", PIPELINE_TASKS)
        # The canary is not judged here (no traffic): promote by hand, so drift has a champion to compare with.
        subprocess.run([pipeline_python, "-m", "pipeline", "release", "recsys", "promote", "--force"],
                       env=airflow_env, check=True)
        states |= {f"drift_recsys.{task}": state for task, state in _dag_test(airflow_env, "drift_recsys", None).items()}
        report = subprocess.run([pipeline_python, "-c", "import json, sys\nfrom pipeline import s3\nr = s3.get_json("
                                 f"'s3://pipeline-work/recsys/{RUN_AFTER:%Y%m%dT%H%M%S}/evaluation.json')\n"
                                 "print(json.dumps(r.get('gates', r)))"], env=pipeline_env, capture_output=True, text=True)
        print(json.dumps({"states": states, "gates": report.stdout.strip() or report.stderr[-500:]}, indent=1))
        # No drift in an unchanged lake: the short-circuit stops before retrain.
        expected = {task: "success" for task in ["run", *PIPELINE_TASKS]} | {
            "drift_recsys.run": "success", "drift_recsys.drift": "success",
            "drift_recsys.drift_detected": "success", "drift_recsys.retrain": "skipped"}
        return 0 if states == expected else 1
    finally:
        for process in reversed(started):
            process.stop()


def _dag_test(env: dict, dag_id: str, task_ids: list[str] | None) -> dict[str, str]:
    """{task_id: state} of one `dag.test()` run at RUN_AFTER (of only task_ids, when given), in its own process."""
    program = f"""
import json
from datetime import datetime
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder={str(DAGS)!r}, include_examples=False)
assert not bag.import_errors, bag.import_errors
dag = bag.dags[{dag_id!r}]
if {task_ids!r}:
    dag = dag.partial_subset({task_ids!r}, include_upstream=False)
at = datetime.fromisoformat({RUN_AFTER.isoformat()!r})
run = dag.test(logical_date=at, run_after=at)
print(json.dumps({{"run": run.state, **{{ti.task_id: ti.state for ti in run.get_task_instances()}}}}))
"""
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    # A failed step's one line (run_local raises it) is what to read when a state is not success.
    print("\n".join(line for line in (done.stdout + done.stderr).splitlines() if " exited " in line)[-4000:],
          file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
