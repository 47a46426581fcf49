"""`make test-infra` and `make test` as they plan the infrastructure suite's pytest workers.

GNU nproc reports OMP_NUM_THREADS when it is set, and `make test` exports OMP_NUM_THREADS=1 to
its suites: a worker count read from a plain `nproc` said 1 wherever OMP_NUM_THREADS was set
(found 2026-11-30). Alone, the suite takes one worker per core; inside `make test`, beside five
other suites, it takes SUITE_JOBS (0, no worker process: with two, the load reached 12 and the demo's canary analysis,
which judges p99 latency for real, rolled back a healthy canary)."""
import os
import re
import subprocess

import pytest

from preview_run import REPO_ROOT

CLEAN = {k: v for k, v in os.environ.items()
         if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "JOBS", "SUITE_JOBS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def workers(target: str, env: dict[str, str], *args: str) -> list[str]:
    plan = subprocess.run(["make", "-n", target, *args], cwd=REPO_ROOT, env={**CLEAN, **env},
                          capture_output=True, text=True, timeout=60).stdout
    return re.findall(r"-m pytest tests -q -n (\d+) --dist loadfile", plan)


@pytest.mark.parametrize("omp", [{}, {"OMP_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}])
def test_alone_the_infrastructure_suite_runs_one_worker_per_core(omp):
    cores = subprocess.run(["nproc"], env=CLEAN, capture_output=True, text=True, check=True).stdout.strip()
    assert workers("test-infra", omp) == [cores]


def test_inside_make_test_it_runs_suite_jobs_workers():
    assert workers("test", {}) == ["0"]  # the files one after another in pytest's own process
    assert workers("test", {}, "SUITE_JOBS=3") == ["3"]
