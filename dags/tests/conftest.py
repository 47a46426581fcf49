"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME, no examples, no telemetry."""
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1]
REPO = DAGS.parent
_HOME = tempfile.mkdtemp(prefix="airflow-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # one per run was left in /tmp
os.environ.update({
    "AIRFLOW_HOME": _HOME,
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    # The default 30 s is about a shared CI machine's first import of the Kubernetes clients,
    # not about the DAGs: a timeout here would be a flaky test, not a finding.
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
    # Telemetry off: Airflow's Scarf usage reporting, and the general opt-out.
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "true",
})
os.environ.pop("PIPELINE_RUNNER", None)
for path in (str(DAGS), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)
