"""Where the pipeline steps read and write, and which days they cover: Jinja templates the DAGs
put into the steps' command lines (`python -m pipeline <step> --help` has the arguments).

Locations are Airflow Variables (the platform sets them from the stack's buckets), with the
reference stack's names as defaults:
  mlops_raw_lake       s3://<raw bucket>[/<prefix>] holding clickstream/dt=.../hour=.../
  mlops_features       s3://<features bucket>/<prefix>; a run's features go under <model>/<run>/
  mlops_artifact_root  s3://<MLflow artifact bucket>; `register` logs runs under models/<model>/
  mlops_work           s3://<pipeline bucket>; a run's model, ONNX and reports go under <model>/<run>/

Days are counted from the run's `run_after` (the moment it was scheduled or triggered), not from
`ds`: a run triggered by the drift asset has no logical date in Airflow 3.
"""
from __future__ import annotations

import os

RAW = "{{ var.value.get('mlops_raw_lake', 's3://xyz-mlops-lake') }}"
FEATURES = "{{ var.value.get('mlops_features', 's3://xyz-mlops-features/features') }}"
ARTIFACT_ROOT = "{{ var.value.get('mlops_artifact_root', 's3://xyz-mlops-mlflow') }}"
WORK = "{{ var.value.get('mlops_work', 's3://xyz-mlops-pipeline') }}"
# One prefix per run: the scheduling moment to the second (max_active_runs=1 keeps it unique),
# without run_id's ':' and '+' that S3 clients escape differently.
RUN = "{{ dag_run.run_after | ts_nodash }}"


def day(offset: int) -> str:
    """YYYY-MM-DD `offset` days from the run's day (negative: before it); the run's day itself is
    0, and as an exclusive end it keeps the still-incomplete current day out."""
    return f"{{{{ macros.ds_add(dag_run.run_after | ds, {offset}) }}}}"


def pushgateway() -> list[str]:
    """["--pushgateway", $PUSHGATEWAY_URL] when the Airflow deployment sets it, else [] (no push).
    Read when the DAG is parsed: the DAG processor runs with the deployment's environment."""
    url = os.environ.get("PUSHGATEWAY_URL")
    return ["--pushgateway", url] if url else []
