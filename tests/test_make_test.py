"""`make test` as CI runs it: the infrastructure suite gets one pytest worker per core.

`make test` exports OMP_NUM_THREADS=1 to its suites, and GNU nproc reports OMP_NUM_THREADS when it
is set: the worker count read from a plain `nproc` was 1 on every machine (found 2026-11-30: the
suite ran on one worker, 445 s, and ended last in a 452 s `make test`)."""
import os
import re
import subprocess

from preview_run import REPO_ROOT


def test_the_infrastructure_suite_runs_one_worker_per_core():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "JOBS", "MAKEFLAGS")}
    cores = int(subprocess.run(["nproc"], env=env, capture_output=True, text=True, check=True).stdout)
    for outer in ({}, {"OMP_NUM_THREADS": "1"}):
        plan = subprocess.run(["make", "-n", "test"], cwd=REPO_ROOT, env={**env, **outer},
                              capture_output=True, text=True, timeout=60).stdout
        workers = re.findall(r"-m pytest tests -q -n (\d+) --dist loadfile", plan)
        assert workers == [str(cores)], (outer, plan[-2000:])
