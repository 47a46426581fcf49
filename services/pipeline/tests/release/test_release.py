"""The release controller against real services: Prometheus over recorded executor series,
the Pushgateway, and a basic-auth `mlflow server` whose artifacts live on moto S3."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pytest
import requests
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from conftest import BUCKET, PIPELINE, REPO
from observability.metrics_contract import by_name
from observability.model_rules import model_rule_groups
from observability.release_queries import error_ratio, executor_selector, latency_quantile, request_count
from pipeline.release import analysis, cli
from recorded import END, WINDOW

SLO_P99_MS = "100"  # models/recsys.yaml: slo.p99LatencyMs
PASSED = {"gate.accuracy": "passed: HR@10 0.231 >= 0.205", "gate.schema": "passed", "gate.latency": "passed: p99 41 ms"}


@pytest.fixture
def env(monkeypatch, mlflow_registry, pushgateway_url, prometheus_url):
    uri, auth_dir = mlflow_registry
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_AUTH_DIR", str(auth_dir))
    monkeypatch.setenv("PUSHGATEWAY_URL", pushgateway_url)
    monkeypatch.setenv("PROMETHEUS_URL", prometheus_url)
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    return {"uri": uri, "auth_dir": auth_dir, "pushgateway": pushgateway_url}


@pytest.fixture
def admin(env):
    os.environ["MLFLOW_TRACKING_USERNAME"] = (env["auth_dir"] / "username").read_text().strip()
    os.environ["MLFLOW_TRACKING_PASSWORD"] = (env["auth_dir"] / "password").read_text().strip()
    return MlflowClient(env["uri"])


def register(client: MlflowClient, model: str, *tag_sets: dict) -> list[str]:
    """Registers one version per tag set, each with an artifact on the moto S3, as `register` would."""
    experiment = client.create_experiment(model, artifact_location=f"s3://{BUCKET}/models/{model}")
    client.create_registered_model(model)
    numbers = []
    for tags in tag_sets:
        run = client.create_run(experiment)
        client.log_text(run.info.run_id, "onnx stand-in", "model/model.onnx")
        client.set_terminated(run.info.run_id)
        numbers.append(client.create_model_version(model, f"{run.info.artifact_uri}/model", run.info.run_id,
                                                   tags=tags, await_creation_for=0).version)
    return [str(n) for n in numbers]


def release(capsys, *args: str) -> tuple[int, dict | None, str]:
    capsys.readouterr()  # what came before (MLflow's client logging) is not the command's output
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (json.loads(lines[-1]) if lines else None), err.strip()


def aliases(client: MlflowClient, model: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(model).aliases.items()}


def tags(client: MlflowClient, model: str, number: str) -> dict[str, str]:
    return client.get_model_version(model, number).tags


def in_canary(client: MlflowClient, capsys, model: str) -> tuple[str, str]:
    """v1 champion, v2 registered with passing gates and aliased candidate (register's job), started."""
    v1, v2 = register(client, model, PASSED, PASSED)
    client.set_registered_model_alias(model, "champion", v1)
    client.set_registered_model_alias(model, "candidate", v2)
    code, result, err = release(capsys, model, "start")
    assert (code, err) == (0, "")
    assert result["version"] == v2
    # The canary serves it from here on, and the candidate alias is spent.
    assert aliases(client, model) == {"champion": v1, "challenger": v2}
    return v1, v2


def analyze(capsys, model: str, *extra: str):
    return release(capsys, model, "analyze", "--slo-p99-ms", SLO_P99_MS, "--window", WINDOW, "--end", str(END), *extra)


def pushed(pushgateway: str) -> list:
    text = requests.get(f"{pushgateway}/metrics", timeout=5).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("mlops_")]


# --- the three stories of the issue ------------------------------------------------------------

def test_a_healthy_canary_is_promoted(env, admin, capsys):
    v1, v2 = in_canary(admin, capsys, "healthy")
    code, result, _ = analyze(capsys, "healthy")
    assert (code, result["decision"]) == (0, "promote")
    # 1000 canary requests per 15 s scrape, 0.2% failing; stable 9000 per scrape, 0.1% failing.
    assert result["canary"]["error_ratio"] == pytest.approx(0.002)
    assert result["stable"]["error_ratio"] == pytest.approx(0.001)
    assert result["canary"]["requests"] == pytest.approx(40_000, rel=0.05)
    assert result["canary"]["p99_seconds"] < 0.1
    recorded = tags(admin, "healthy", v2)
    assert recorded["release.analysis.decision"] == "promote"
    assert recorded["release.analysis.window"] == "10m ending 2026-01-01T00:30:00Z"
    assert float(recorded["release.analysis.canary.error_ratio"]) == pytest.approx(0.002)
    assert float(recorded["release.analysis.stable.error_ratio"]) == pytest.approx(0.001)

    code, result, _ = release(capsys, "healthy", "promote")
    assert (code, result["version"], result["previous_champion"]) == (0, v2, v1)
    assert aliases(admin, "healthy") == {"champion": v2}  # no challenger: the canary serves the champion
    assert tags(admin, "healthy", v2)["release.decision"] == "promote"
    assert tags(admin, "healthy", v1)["release.superseded_by"] == v2


def test_a_canary_failing_2_percent_is_rolled_back(env, admin, capsys):
    v1, v2 = in_canary(admin, capsys, "failing")
    code, result, _ = analyze(capsys, "failing")
    assert (code, result["decision"]) == (0, "rollback")
    assert result["canary"]["error_ratio"] == pytest.approx(0.02)
    assert "2.00% > 1.00%" in result["reason"]
    # A person cannot promote what the analysis rejected without saying so.
    code, _, err = release(capsys, "failing", "promote")
    assert code == 2 and "decided rollback, not promote" in err

    code, result, _ = release(capsys, "failing", "rollback")
    assert (code, result["version"], result["champion"]) == (0, v2, v1)
    assert aliases(admin, "failing") == {"champion": v1, "challenger": v1}
    bad = tags(admin, "failing", v2)
    assert bad["release.decision"] == "rollback"
    assert "canary error ratio 2.00% > 1.00%" in bad["release.rollback_reason"]
    # Rolled back once: a second click says there is nothing left to roll back.
    code, _, err = release(capsys, "failing", "rollback")
    assert code == 2 and "nothing to roll back" in err


@pytest.mark.parametrize("model", ["quiet", "silent"])
def test_too_little_canary_traffic_is_neither_promoted_nor_rolled_back(env, admin, capsys, model):
    v1, v2 = in_canary(admin, capsys, model)
    code, result, _ = analyze(capsys, model)
    # "quiet": ~80 requests, every one failed, still below the 100 needed; "silent": none at all.
    assert (code, result["decision"]) == (cli.EXIT_WAIT, "wait")
    assert "fewer than the 100 needed" in result["reason"]
    assert aliases(admin, model) == {"champion": v1, "challenger": v2}
    assert tags(admin, model, v2)["release.analysis.decision"] == "wait"


# --- thresholds on both sides of the edge ------------------------------------------------------

# stable: the stable predictor's p99 the canary's latency was judged against (None: not checked).
@pytest.mark.parametrize(("model", "decision", "field", "measured", "stable"), [
    ("edge-under", "promote", "error_ratio", pytest.approx(0.0099, rel=1e-6), None),
    ("edge-over", "rollback", "error_ratio", pytest.approx(0.0101, rel=1e-6), None),
    # p99 interpolated in the executor's buckets (recorded.py): 98 ms and 113.6 ms against 100 ms.
    ("slow-under", "promote", "p99_seconds", pytest.approx(0.098, abs=0.0005), None),
    ("slow-over", "rollback", "p99_seconds", pytest.approx(0.1136, abs=0.0005), pytest.approx(0.05, abs=0.025)),
    # Over the SLO with the stable over it too: faster than the stable's 375 ms is not the
    # canary's doing; slower than the stable's 107.1 ms is.
    ("slow-both", "promote", "p99_seconds", pytest.approx(0.1136, abs=0.0005), pytest.approx(0.375, abs=0.0005)),
    ("slow-canary-slower", "rollback", "p99_seconds", pytest.approx(0.1136, abs=0.0005),
     pytest.approx(0.1071, abs=0.0005))])
def test_thresholds_on_both_sides_of_the_edge(env, admin, capsys, model, decision, field, measured, stable):
    in_canary(admin, capsys, model)
    code, result, _ = analyze(capsys, model)
    assert (code, result["decision"]) == (0, decision)
    assert result["canary"][field] == measured
    if stable is not None:
        assert result["stable"]["p99_seconds"] == stable


def test_the_minimum_request_count_is_an_argument(env, admin, capsys):
    in_canary(admin, capsys, "quiet-min-50")  # the "quiet" traffic: ~80 canary requests, all failed
    code, result, _ = analyze(capsys, "quiet-min-50", "--min-requests", "50")
    assert (code, result["decision"]) == (0, "rollback")
    assert result["canary"]["error_ratio"] == pytest.approx(1.0)


# --- checks during the window ------------------------------------------------------------------

def test_a_healthy_canary_checked_ten_times_is_promoted_over_the_whole_window(env, admin, capsys):
    _, v2 = in_canary(admin, capsys, "healthy-checked")
    code, result, _ = analyze(capsys, "healthy-checked", "--checks", "10")
    # Promotion is only decided over the whole window: the same figures as one analysis at its end.
    assert (code, result["decision"], result["check"], result["checks"]) == (0, "promote", 10, 10)
    assert result["window"] == "10m ending 2026-01-01T00:30:00Z"
    assert result["canary"]["requests"] == pytest.approx(40_000, rel=0.05)
    assert tags(admin, "healthy-checked", v2)["release.analysis.check"] == "10 of 10"


def test_a_failing_canary_is_rolled_back_at_the_first_check(env, admin, capsys):
    _, v2 = in_canary(admin, capsys, "failing-checked")
    code, result, _ = analyze(capsys, "failing-checked", "--checks", "10")
    # 2% failing from the start: the first tenth of the window (1 minute, ~4000 requests) decides.
    assert (code, result["decision"], result["check"]) == (0, "rollback", 1)
    assert result["window"] == "60s ending 2026-01-01T00:21:00Z"
    assert result["canary"]["error_ratio"] == pytest.approx(0.02)
    assert tags(admin, "failing-checked", v2)["release.analysis.check"] == "1 of 10"


def test_a_canary_failing_late_is_rolled_back_at_the_first_check_over_the_threshold(env, admin, capsys):
    in_canary(admin, capsys, "late-failing")
    # 5% failing from minute 5 of the 10-minute window; check k covers k minutes, so its error
    # ratio is 5% x (k - 5) / k: 0.83% at k = 6 (under 1%), 1.43% at k = 7 (over).
    code, result, _ = analyze(capsys, "late-failing", "--checks", "10")
    assert (code, result["decision"], result["check"]) == (0, "rollback", 7)
    assert result["canary"]["error_ratio"] == pytest.approx(0.05 * 2 / 7, rel=0.02)
    assert result["window"] == "420s ending 2026-01-01T00:27:00Z"
    # One analysis at the end sees the same canary at 2.5%, three minutes later.
    code, result, _ = analyze(capsys, "late-failing")
    assert (code, result["decision"], result["check"]) == (0, "rollback", 1)
    assert result["canary"]["error_ratio"] == pytest.approx(0.025, rel=0.02)


def test_watch_waits_for_the_window_after_the_release_started(env, admin, capsys):
    _, v2 = in_canary(admin, capsys, "watched")
    started = tags(admin, "watched", v2)["release.started_at"]
    # A window that ends 4 s from now, however long `release start` and the lookups took: a fixed
    # 4 s window had passed before the analysis began on a slow machine (`make test`, 2026-11-30),
    # and a window already over is the last one before now (a retry's), not the release's.
    seconds = math.ceil(time.time() - cli._end_time(started)) + 4
    code, result, _ = release(capsys, "watched", "analyze", "--slo-p99-ms", SLO_P99_MS, "--window", f"{seconds}s",
                              "--checks", "2", "--watch")
    # Nothing was served (the recorded series are from January): both checks wait, the last one
    # at the window's end, `seconds` after `release start`.
    assert (code, result["decision"], result["check"]) == (cli.EXIT_WAIT, "wait", 2)
    end = cli._iso(cli._end_time(started) + seconds)
    assert result["window"] == f"{seconds}s ending {end}"
    assert tags(admin, "watched", v2)["release.analysis.analyzed_at"] >= end


@pytest.mark.parametrize(("seconds", "checks", "accepted"), [(600, 600, True), (600, 601, False),
                                                            (600, 1, True), (600, 0, False)])
def test_checks_are_at_least_a_second_apart_and_end_with_the_window(seconds, checks, accepted):
    if not accepted:
        with pytest.raises(ValueError):
            analysis.check_times(1000.0, seconds, checks)
        return
    times = analysis.check_times(1000.0, seconds, checks)
    assert len(times) == checks
    assert times[-1] == 1000.0 and times[0] == pytest.approx(1000.0 - seconds + seconds / checks)
    assert min(b - a for a, b in zip([1000.0 - seconds, *times], times)) >= 1


# --- start ---------------------------------------------------------------------------------------

def test_start_refuses_a_version_without_passing_gates(env, admin, capsys):
    v1, failed, untested = register(admin, "gated", PASSED, {**PASSED, "gate.accuracy": "failed: 0.19 < 0.205"}, {})
    admin.set_registered_model_alias("gated", "champion", v1)
    code, _, err = release(capsys, "gated", "start", "--version", failed)
    assert code == 2
    assert err == f"release start: models:/gated/{failed} has not passed its gates: gate.accuracy=failed: 0.19 < 0.205"
    code, _, err = release(capsys, "gated", "start", "--version", untested)
    assert code == 2 and "no gate.<name> tags" in err
    assert aliases(admin, "gated") == {"champion": v1}


def test_the_first_release_is_champion_and_challenger(env, admin, capsys):
    (v1,) = register(admin, "first", PASSED)
    code, result, _ = release(capsys, "first", "start", "--version", v1)
    assert (code, result["first_release"]) == (0, True)
    assert aliases(admin, "first") == {"champion": v1, "challenger": v1}


def test_start_needs_a_challenger_or_a_version(env, admin, capsys):
    register(admin, "unaliased", PASSED)
    code, _, err = release(capsys, "unaliased", "start")
    assert code == 2 and "has no `candidate` alias" in err


# --- records: metrics in the contract ----------------------------------------------------------

def test_decisions_are_pushed_with_contract_names_and_labels(env, admin, capsys):
    in_canary(admin, capsys, "pushed")  # start, analyze (1.01% errors), rollback
    assert analyze(capsys, "pushed")[1]["decision"] == "rollback"
    assert release(capsys, "pushed", "rollback")[0] == 0
    samples = [s for s in pushed(env["pushgateway"]) if s.labels.get("model") == "pushed"]
    decisions = {s.labels["decision"] for s in samples if s.name == "mlops_release_decision_timestamp_seconds"}
    assert decisions == {"start", "rollback"}
    ratios = {s.labels["predictor"]: s.value for s in samples if s.name == "mlops_release_analysis_error_ratio"}
    assert ratios == {"canary": pytest.approx(0.0101), "stable": pytest.approx(0.0)}
    contract = by_name()
    assert len(samples) >= 8
    for sample in samples:
        assert sample.name in contract, sample.name
        assert set(sample.labels) <= set(contract[sample.name].labels) | {"job", "instance"}, sample


def test_the_controller_asks_the_alerts_own_queries():
    rules = {r["alert"]: r["expr"] for g in model_rule_groups("recsys", "recsys", "recommendations", 0.999, 0.1)["groups"]
             for r in g["rules"] if "alert" in r}
    canary = executor_selector("recsys", "recsys", "canary")
    assert error_ratio(canary, "5m") in rules["ModelCanaryErrorRateHigh"]
    assert request_count(canary, "5m") in rules["ModelCanaryErrorRateHigh"]
    assert latency_quantile(executor_selector("recsys", "recsys"), "5m") in rules["ModelP99LatencyHigh"]


# --- bad input and failing services: one line, no traceback --------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["analyze", "--slo-p99-ms", "100", "--window", "10"], "--window must be a duration like 10m, 30s or 1h (got 10)"),
    (["analyze", "--slo-p99-ms", "0"], "--slo-p99-ms must be > 0 (got 0)"),
    (["analyze", "--slo-p99-ms", "100", "--end", "yesterday"], "--end must be Unix seconds or ISO 8601 (got yesterday)"),
    (["start", "--version", "seven"], "--version must be a registry version number (got seven)"),
    (["analyze", "--slo-p99-ms", "100", "--window", "10s", "--checks", "11"],
     "--checks 11 over --window 10s: 11 checks over 10 s are less than a second apart"),
    (["analyze", "--slo-p99-ms", "100", "--checks", "0"], "--checks 0 over --window 10m: checks must be >= 1 (got 0)"),
    (["deploy"], "invalid choice: 'deploy'"),
])
def test_bad_arguments_exit_2_with_one_line(env, capsys, args, message):
    code, _, err = release(capsys, "recsys", *args)
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_an_unknown_model_exits_2(env, capsys):
    code, _, err = release(capsys, "no-such-model", "promote")
    assert (code, err) == (2, "model no-such-model is not registered in MLflow")


def test_wrong_mlflow_credentials_fail_in_one_line(env, capsys, tmp_path):
    (tmp_path / "username").write_text("release-bot")
    (tmp_path / "password").write_text("wrong")
    os.environ["MLFLOW_AUTH_DIR"] = str(tmp_path)
    code, _, err = release(capsys, "healthy", "promote")
    assert code == 1 and err.startswith("release promote: MLflow:") and len(err.splitlines()) == 1


def test_unreachable_prometheus_fails_in_one_line(env, admin, capsys):
    in_canary(admin, capsys, "unreachable")
    code, _, err = analyze(capsys, "unreachable", "--prometheus", "http://127.0.0.1:9")
    assert code == 1 and "Prometheus at http://127.0.0.1:9 is unreachable" in err and len(err.splitlines()) == 1


def test_the_module_entry_point_exits_2_without_a_traceback(env):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PIPELINE), str(REPO)])}
    done = subprocess.run([sys.executable, "-m", "pipeline.release", "recsys", "analyze"],
                          capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "release: the following arguments are required: --slo-p99-ms"
