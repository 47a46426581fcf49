"""The phases of the demo: the lifecycle of one model on the local platform.

  platform   start the services (demo/local_platform.py); `airflow db migrate` alongside
  lake       nine weeks of synthetic clickstream into moto S3; a catalogue drift from week eight
  release 1  training_<model> (dag.test) on weeks 1-5: gates -> challenger -> canary under
             generated traffic -> canary analysis (Prometheus) -> promote to champion
  drift      drift_<model> on a clean week (no drift, retrain skipped) and on a drifted week
             (drift -> the drift asset -> training_<model> queued)
  release 2  the queued training_<model> run: a new challenger, canary, promoted
  bad        the champion re-exported with a defect (demo/defect.py), evaluated and registered
             by the real steps, released through the training DAG's release tasks -> rollback,
             timed from its first failed request to the rollback decision
  report     build/<out>/report.md and its plots (demo/report.py)

Every phase runs the repository's own code: the DAGs, the `python -m pipeline` steps (each forked
from one warm interpreter, demo/step_server.py), the release controller, the serving image and the
platform's rule files. A failure raises DemoError(phase, reason).
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from demo.local_platform import REPO, Platform, PlatformError, http_ok
from demo.traffic import Traffic

DAGS_PYTHON = REPO / "dags" / ".venv" / "bin" / "python"
MODEL = "recsys"
FIRST_DAY = datetime(2026, 2, 2, tzinfo=timezone.utc)  # a Monday
# Nine weeks. The validate step compares a training window's volume with the 28 days before it,
# which must be wholly absent (release 1: weeks 1-4) or wholly present (release 2: weeks 5-8).
LAKE_DAYS = 63
DRIFT_FROM_DAY = 49  # week 8 opens a new catalogue section
# Simulated moments (run_after) of each DAG run: the weekly training, a clean and a drifted check.
RELEASE_1 = FIRST_DAY + timedelta(days=35, hours=3)
DRIFT_CLEAN = FIRST_DAY + timedelta(days=42, hours=2)
DRIFT_DRIFTED = FIRST_DAY + timedelta(days=63, hours=2)
RELEASE_2 = DRIFT_DRIFTED + timedelta(minutes=1)  # the asset-triggered run, right after the check
BAD_RELEASE = RELEASE_2 + timedelta(hours=2)


# Traffic: 10% of 60 requests/s over a 25 s window gives the canary ~150 requests, above the 100
# the analysis needs to judge it; at 100 requests/s the Python servers queued on 2 shared cores
# (load ~9) and a healthy canary's p99 crossed the 100 ms SLO, so the controller rightly rolled
# it back. The analysis checks the canary at every tenth of the window (training DAG,
# CANARY_CHECKS), so the bad canary is rolled back at the first check after its 100th request.
@dataclass(frozen=True)
class Size:
    users: int
    items: int
    events_per_day: int
    segments: int
    canary_window_seconds: int
    requests_per_second: float
    latency_requests: int


SIZES = {
    # `make test-demo` (in `make test`): the same phases on a lake half the size; training
    # (20 CPU epochs) and the steps' reads shrink with it. Smaller is not better: at 400 users
    # and 90 items the drift-triggered model fell below the popularity baseline (HR@10 0.782 vs
    # 0.790) while passing its champion + 0.02 gate. 30 s windows: beside the other suites the
    # traffic fell to ~42 requests/s and a 25 s window gave the canary 105 requests, close to
    # the 100 below which the analysis waits (and retries only 5 minutes later).
    "small": Size(users=600, items=120, events_per_day=900, segments=5, canary_window_seconds=30,
                  requests_per_second=60, latency_requests=300),
    # `make demo`: sized so the whole loop stays under 5 minutes on 2 cores; at 1200 users and
    # 1800 events a day training took 21 s a release on a quiet machine, at 3000 and 4000 four
    # minutes (load ~9).
    "full": Size(users=900, items=180, events_per_day=1350, segments=6, canary_window_seconds=25,
                 requests_per_second=60, latency_requests=1000),
}


class DemoError(RuntimeError):
    def __init__(self, phase: str, reason: str):
        super().__init__(f"{phase}: {reason}")
        self.phase, self.reason = phase, reason


# One torch (OpenMP) thread per training step, unless the caller says otherwise: the loop shares
# two cores with its own servers (and, in `make test`, with the other suites), and torch's
# threads wait for each other at every step. Measured on this machine with other jobs running:
# the full-size model in 59-65 s with 2 threads, 20-31 s with 1 (the same final loss).
TRAINING_THREADS = "1"


class Loop:
    def __init__(self, size: str, work: Path, progress=print):
        self.size_name, self.size = size, SIZES[size]
        self.work = work
        self.progress = progress
        os.environ.setdefault("OMP_NUM_THREADS", TRAINING_THREADS)  # inherited by every step and server
        self.platform = Platform(work / "platform", MODEL, _canary_percent())
        self.traffic: Traffic | None = None
        self.wall: dict[str, float] = {}
        self.result: dict = {"size": size, "model": MODEL, "canary_percent": self.platform.canary_percent,
                             "canary_window_seconds": self.size.canary_window_seconds}
        self.aliases: list[dict] = []
        self.started_at = time.time()
        self._phase = "start"
        self._airflow_runner: subprocess.Popen | None = None

    # --- the phases ------------------------------------------------------------------
    def run(self) -> dict:
        with self.phase("platform"):
            try:
                self.platform.check_tools()  # before Airflow's migration or any service starts
                migrate = self._migrate = self._start_airflow_migrate()
                self.platform.start()
            except PlatformError as exc:
                raise DemoError("platform", str(exc)) from None
            os.environ.update(self.platform.env)  # this process reads S3 and the registry too
            self.traffic = Traffic(self.platform.urls["executor"], MODEL, self.size.requests_per_second)
            self.traffic.start()  # paused until a canary serves
            self._wait_migrate(migrate)
        with self.phase("lake"):
            self._generate_lake()
        with self.phase("release 1: train, canary, promote"):
            self._release("first", "training_recsys", RELEASE_1)
        with self.phase("drift checks"):
            self.result["drift"] = [self._drift(DRIFT_CLEAN, expect=False), self._drift(DRIFT_DRIFTED, expect=True)]
        with self.phase("release 2: drift-triggered training, canary, promote"):
            self._release("drift", "training_recsys", RELEASE_2)
        with self.phase("bad candidate: canary, rollback"):
            self._bad_release()
        self.traffic.stop()
        self.result["ended_at"] = time.time()
        self.result["wall_seconds"] = self.wall
        self.result["alias_history"] = self.aliases
        return self.result

    def stop(self) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        for airflow in (getattr(self, "_migrate", None), self._airflow_runner):
            if airflow is not None and airflow.poll() is None:
                os.killpg(airflow.pid, 15)
                try:
                    airflow.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a run's task that ignores SIGTERM
                    os.killpg(airflow.pid, 9)
                    airflow.wait()
        self.platform.stop()

    @contextmanager
    def phase(self, name: str):
        self._phase = name
        self.progress(f"[demo] {name} ...")
        started = time.monotonic()
        yield
        self.wall[name] = round(time.monotonic() - started, 1)
        self.progress(f"[demo] {name}: done in {self.wall[name]:.0f} s")

    def fail(self, reason: str) -> DemoError:
        return DemoError(self._phase, reason)

    # --- airflow ---------------------------------------------------------------------
    def _airflow_env(self) -> dict[str, str]:
        return {**os.environ, **self.platform.env, "AIRFLOW_HOME": str(self.work / "airflow"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                # Unpaused, as the platform's Airflow runs them: an asset event queues no paused DAG.
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "PIPELINE_RUNNER": "local", "PIPELINE_PYTHON": str(self.platform.pipeline_python),
                "AIRFLOW_VAR_MLOPS_RAW_LAKE": "s3://lake-raw",
                "AIRFLOW_VAR_MLOPS_FEATURES": "s3://lake-features/features",
                "AIRFLOW_VAR_MLOPS_ARTIFACT_ROOT": "s3://mlflow-artifacts",
                "AIRFLOW_VAR_MLOPS_WORK": "s3://pipeline-work"}

    def _start_airflow_migrate(self) -> subprocess.Popen:
        if not DAGS_PYTHON.exists():
            raise self.fail(f"{DAGS_PYTHON} is missing: `make dags/.venv/.installed` builds the DAG venv")
        env = {**os.environ, "AIRFLOW_HOME": str(self.work / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        log = (self.work / "airflow-migrate.log").open("wb")
        return subprocess.Popen([str(DAGS_PYTHON), "-m", "airflow", "db", "migrate"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_migrate(self, migrate: subprocess.Popen) -> None:
        if migrate.wait(timeout=600) != 0:
            raise self.fail(f"airflow db migrate exited {migrate.returncode}: {_last_line(self.work / 'airflow-migrate.log')}")

    def _airflow(self) -> subprocess.Popen:
        """demo/airflow_run.py in the DAG venv: Airflow imported and the DAGs parsed once for the
        demo's five runs; started at the first run (the database is migrated by then)."""
        if self._airflow_runner is None:
            with (self.work / "airflow-runner.log").open("ab") as log:
                self._airflow_runner = subprocess.Popen(
                    [str(DAGS_PYTHON), str(REPO / "demo" / "airflow_run.py")], env=self._airflow_env(),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
            os.set_blocking(self._airflow_runner.stdout.fileno(), False)
        return self._airflow_runner

    def _dag_test(self, dag_id: str, at: datetime, tasks: list[str] | None = None, conf: dict | None = None,
                  while_running=None) -> dict:
        """One dag.test() run; {"run", "tasks", "asset_events", "queued"}. Its output is in
        work/airflow-<dag_id>-<run_after>.log. while_running() is called every half second while
        it runs (the traffic's start)."""
        log_path = self.work / f"airflow-{dag_id}-{at:%Y%m%dT%H%M}.log"
        runner = self._airflow()
        request = {"dag_id": dag_id, "run_after": at.isoformat(), "tasks": tasks, "conf": conf or {},
                   "log": str(log_path)}
        answer = b""
        try:
            runner.stdin.write(json.dumps(request).encode() + b"\n")
            runner.stdin.flush()
            deadline = time.monotonic() + 900
            while not answer.endswith(b"\n"):
                if runner.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise self.fail(f"{dag_id} did not finish in 900 s (log {log_path})")
                answer += runner.stdout.read() or b""
                if while_running is not None:
                    while_running()
                if not answer.endswith(b"\n"):
                    time.sleep(0.5)
        except BrokenPipeError:
            runner.wait(timeout=30)
        if not answer.endswith(b"\n"):
            raise self.fail(f"{dag_id}: the Airflow runner exited {runner.returncode}: "
                            f"{_last_line(self.work / 'airflow-runner.log')}")
        try:
            states = json.loads(answer)
        except ValueError:
            raise self.fail(f"{dag_id}: the Airflow runner answered {answer[:200]!r}, not one JSON line") from None
        if "error" in states:
            raise self.fail(f"{dag_id} run failed: {states['error']} ({_step_failure(log_path)})")
        return states

    # --- lake ------------------------------------------------------------------------
    def _pipeline(self, *argv: str, what: str) -> str:
        done = subprocess.run([str(self.platform.pipeline_python), "-m", *argv], env={**os.environ, **self.platform.env},
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise self.fail(f"{what} exited {done.returncode}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return done.stdout

    def _generate_lake(self) -> None:
        s = self.size
        drift_day = (FIRST_DAY + timedelta(days=DRIFT_FROM_DAY)).date().isoformat()
        self._pipeline("pipeline", "generate", "--raw", "s3://lake-raw", "--start", FIRST_DAY.date().isoformat(),
                       "--days", str(LAKE_DAYS), "--users", str(s.users), "--items", str(s.items),
                       "--events-per-day", str(s.events_per_day), "--segments", str(s.segments), "--seed", "11",
                       "--drift-from", drift_day, "--drift-kind", "catalogue", what="pipeline generate")
        self.result["lake"] = {"first_day": FIRST_DAY.date().isoformat(), "days": LAKE_DAYS,
                               "drift_from": drift_day, "drift_kind": "catalogue", "users": s.users,
                               "items": s.items, "events_per_day": s.events_per_day}

    # --- releases --------------------------------------------------------------------
    def _release(self, role: str, dag_id: str, at: datetime, tasks: list[str] | None = None,
                 before: dict | None = None) -> dict:
        """One training DAG run ending in a decision; the traffic runs from the moment the canary
        serves a version other than `before` (default: what it serves now) to the decision."""
        before = before or self._served_versions()
        watch = _TrafficStarter(self, before)
        started = time.time()
        states = self._dag_test(dag_id, at, tasks, {"canary_window_seconds": self.size.canary_window_seconds},
                                while_running=watch)
        decision = "promote" if states["tasks"].get("promote") == "success" else (
            "rollback" if states["tasks"].get("rollback") == "success" else None)
        if decision is None:
            raise self.fail(f"{dag_id} made no release decision: tasks {states['tasks']} "
                            f"({_step_failure(self.work / f'airflow-{dag_id}-{at:%Y%m%dT%H%M}.log')})")
        if role != "bad":  # the bad release's traffic runs on until the canary has recovered
            self.traffic.pause()
        tags = self._version_tags(self._version_of(decision))
        release = {"role": role, "dag_id": dag_id, "run_after": at.isoformat(), "tasks": states["tasks"],
                   "decision": decision, "started": started, "version": tags["version"], "tags": tags["tags"],
                   "traffic_started": watch.started_at}
        # `release start` made it the challenger (and the champion too, on a first release).
        before_start = tags["tags"].get("release.champion_at_start", "none")
        self.aliases.append({"at": _at(tags["tags"]["release.started_at"]), "event": f"start v{tags['version']}",
                             "champion": tags["version"] if before_start == "none" else before_start,
                             "challenger": tags["version"]})
        self.aliases.append({"at": time.time(), "event": f"{decision} v{tags['version']}", **self._aliases()})
        self.result.setdefault("releases", []).append(release)
        return release

    def _bad_release(self) -> None:
        before = self._served_versions()  # the canary moves when `release start` makes the candidate the challenger
        champion = self._aliases()["champion"]
        work = f"s3://pipeline-work/{MODEL}/{RELEASE_2:%Y%m%dT%H%M%S}"
        features = f"s3://lake-features/features/{MODEL}/{RELEASE_2:%Y%m%dT%H%M%S}"
        bad = f"s3://pipeline-work/{MODEL}/bad-{BAD_RELEASE:%Y%m%dT%H%M%S}"
        self.result["bad_candidate"] = {"from_version": champion,
                                        "defect": self._pipeline("demo.defect", "--onnx", f"{work}/model.onnx",
                                                                 "--features", features, "--out", f"{bad}/model.onnx",
                                                                 what="demo.defect").strip()}
        # The real evaluate and register steps: a re-export of the champion must not be worse than
        # it (--min-improvement 0); the champion is re-scored on the same holdout.
        self._pipeline("pipeline", "evaluate", "--features", features, "--onnx", f"{bad}/model.onnx",
                       "--validation", f"{work}/validation.json", "--report", f"{bad}/evaluation.json",
                       "--model-name", MODEL, "--p99-ms", "100", "--min-improvement", "0",
                       "--latency-requests", str(self.size.latency_requests), what="pipeline evaluate (bad candidate)")
        self._pipeline("pipeline", "register", "--model-name", MODEL, "--onnx", f"{bad}/model.onnx",
                       "--evaluation", f"{bad}/evaluation.json", "--validation", f"{work}/validation.json",
                       "--features", features, "--model", f"{work}/model", "--artifact-root", "s3://mlflow-artifacts",
                       what="pipeline register (bad candidate)")
        self.result["bad_candidate"]["evaluation"] = f"{bad}/evaluation.json"
        # The training DAG's own release tasks, as a run that found a registered candidate.
        release = self._release("bad", "training_recsys", BAD_RELEASE,
                                ["release_start", "canary_analysis", "decide", "promote", "rollback"],
                                before)
        if release["decision"] != "rollback":
            raise self.fail(f"the bad candidate v{release['version']} was {release['decision']}d, not rolled back")
        self._time_the_rollback(release)
        self.traffic.pause()

    def _time_the_rollback(self, release: dict) -> None:
        # The controller's own record on the version (whole seconds), not a clock of the demo's.
        rolled_back_at = _at(self._version_tags(release["version"])["tags"]["release.rolled_back_at"])
        if rolled_back_at < release["started"] - 1:
            raise self.fail(f"v{release['version']} tagged rolled back at {rolled_back_at:.0f}, before its release began")
        first_error = self.traffic.first_error_after(release["started"], "canary")
        if first_error is None:
            raise self.fail("the bad canary never failed a request: nothing to time")
        champion = self._aliases()["champion"]
        # Recovery: the canary predictor answers with the champion again (its next registry poll).
        deadline = time.monotonic() + 60
        recovered = None
        while recovered is None and time.monotonic() < deadline:
            time.sleep(0.5)
            recovered = next((a.at for a in list(self.traffic.answers) if a.at > rolled_back_at
                              and a.predictor == "canary" and a.status == 200 and a.version == champion), None)
        self.result["rollback"] = {
            "version": release["version"], "first_error_at": first_error, "rolled_back_at": rolled_back_at,
            "detection_to_rollback_seconds": round(rolled_back_at - first_error, 1),
            "canary_serves_champion_at": recovered,
            "first_error_to_recovery_seconds": None if recovered is None else round(recovered - first_error, 1)}

    # --- drift -----------------------------------------------------------------------
    def _drift(self, at: datetime, expect: bool) -> dict:
        states = self._dag_test("drift_recsys", at)
        if states["tasks"].get("drift") != "success":
            raise self.fail(f"drift_recsys at {at:%Y-%m-%d} failed: {states['tasks']}")
        from pipeline import s3

        report = s3.get_json(f"s3://pipeline-work/{MODEL}/drift/{at:%Y%m%dT%H%M%S}/drift.json")
        window_end = at.date()
        entry = {"run_after": at.isoformat(), "current": f"{window_end - timedelta(days=7)}..{window_end - timedelta(days=1)}",
                 "detected": bool(report["detected"]), "drift_share": report["drift_share"],
                 "unseen_item_share": report.get("unseen_item_share"), "retrain": states["tasks"].get("retrain"),
                 "asset_events": states["asset_events"], "queued": states["queued"]}
        if entry["detected"] != expect:
            raise self.fail(f"drift on {entry['current']}: detected={entry['detected']}, expected {expect} "
                            f"(drift share {entry['drift_share']:.2f})")
        if expect and f"training_{MODEL}" not in states["queued"]:
            raise self.fail(f"drift found but training_{MODEL} was not queued by mlops://{MODEL}/drift")
        return entry

    # --- registry, serving and Pushgateway reads --------------------------------------
    def _client(self):
        if not hasattr(self, "_mlflow"):
            from pipeline.release import registry

            self._mlflow = registry.client_from_env()
        return self._mlflow

    def _aliases(self) -> dict:
        from pipeline.release import registry

        found = registry.aliases(self._client(), MODEL)
        return {"champion": found.get("champion"), "challenger": found.get("challenger")}

    def _version_tags(self, version: str) -> dict:
        return {"version": str(version), "tags": dict(self._client().get_model_version(MODEL, str(version)).tags)}

    def _version_of(self, decision: str) -> str:
        if decision == "promote":
            return self._aliases()["champion"]
        rolled = [v for v in self._client().search_model_versions(f"name='{MODEL}'")
                  if v.tags.get("release.decision") == "rollback"]
        if not rolled:
            raise self.fail("the DAG's rollback task succeeded but no version is tagged release.decision=rollback")
        return str(max(rolled, key=lambda v: v.tags.get("release.rolled_back_at", "")).version)

    def _served_versions(self) -> dict[str, str | None]:
        return {p: _served_version(self.platform.urls[p]) for p in ("stable", "canary")}


class _TrafficStarter:
    """Resumes the generated traffic once the canary predictor serves the new challenger, and
    hands the traffic the features' known customers (repeat and hot visitors)."""

    def __init__(self, loop: Loop, before: dict):
        self.loop, self.before = loop, before
        self.started_at: float | None = None

    def __call__(self) -> None:
        if self.started_at is not None:
            return
        served = self.loop._served_versions()
        if served["canary"] is None or served["stable"] is None or served["canary"] == self.before["canary"]:
            return
        from pipeline import s3

        traffic = self.loop.traffic
        if not traffic.has_customers():
            features = f"s3://lake-features/features/{MODEL}/{RELEASE_1:%Y%m%dT%H%M%S}"
            traffic.set_customers(s3.get_frame(f"{features}/customers.parquet")["customer_id"].to_list())
        traffic.resume()
        self.started_at = time.time()


def _served_version(url: str) -> str | None:
    if not http_ok(f"{url}/v2/health/ready"):
        return None
    try:
        with urllib.request.urlopen(f"{url}/v2/models/{MODEL}", timeout=2) as response:
            return str(json.loads(response.read())["versions"][0])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _canary_percent() -> float:
    import yaml

    doc = yaml.safe_load((REPO / "models" / f"{MODEL}.yaml").read_text())
    return float((doc.get("canary") or {}).get("trafficPercent", 0))


def _last_line(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return (lines or ["(no output)"])[-1][-400:]


def _step_failure(log: Path) -> str:
    """The failed step's one line (pipeline_tasks.run_local raises it), else the log's last line."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    failed = [line for line in lines if " exited " in line and "pipeline" in line]
    return (failed or lines or ["(no output)"])[-1].strip()[-400:]
