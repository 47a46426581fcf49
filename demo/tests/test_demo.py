"""`make test-demo`: the small-size demo, run once, must show the lifecycle's outcomes.

Expectations come from the seed and issue 14: a gated model promoted through a canary, drift
found only in the drifted week and answered by a drift-triggered retraining, a bad canary (> 1%
errors, the seed's rollback threshold) rolled back within the seed's 8-minute MTTR, and the report
with its plots written. Runs in services/pipeline's venv (the demo's orchestrator).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / "services" / "pipeline" / ".venv" / "bin" / "python"
MTTR_SECONDS = 8 * 60  # the seed's mean time to recovery
PLOTS = ("versions.png", "drift.png", "canary.png", "aliases.png")


@pytest.fixture(scope="module")
def demo():
    # Under build/, not the shared /tmp/pytest-of-<user>: other sessions' pytest runs prune that.
    out = REPO / "build" / "test-demo"
    done = subprocess.run([str(PYTHON), "-m", "demo", "--size", "small", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, json.loads((out / "result.json").read_text()), done


def releases(result: dict, role: str) -> list[dict]:
    return [r for r in result["releases"] if r["role"] == role]


def test_the_first_gated_model_is_promoted_through_its_canary(demo):
    _, result, _ = demo
    first = releases(result, "first")
    assert len(first) == 1
    assert first[0]["decision"] == "promote"
    assert first[0]["tags"]["release.analysis.decision"] == "promote"
    assert first[0]["tags"]["gates_passed"] == "true"
    assert float(first[0]["tags"]["release.analysis.canary.requests"]) >= 100  # judged on evidence
    # Promotion is decided over the whole window, at its last check.
    checks = first[0]["tags"]["release.analysis.check"].split(" of ")
    assert int(checks[1]) > 1 and checks[0] == checks[1]
    assert first[0]["tags"]["release.analysis.window"].startswith(f"{result['canary_window_seconds']}s ending ")


def test_drift_is_found_only_in_the_drifted_week_and_retrains(demo):
    _, result, _ = demo
    clean, drifted = result["drift"]
    assert (clean["detected"], drifted["detected"]) == (False, True)
    assert clean["retrain"] == "skipped" and clean["asset_events"] == []
    assert drifted["asset_events"] == ["mlops://recsys/drift"]
    assert drifted["queued"] == ["training_recsys"]
    retrained = releases(result, "drift")
    assert len(retrained) == 1 and retrained[0]["decision"] == "promote"
    assert int(retrained[0]["version"]) > int(releases(result, "first")[0]["version"])


def test_every_promoted_version_beat_its_baseline_by_the_gate(demo):
    _, result, _ = demo
    promoted = [e for e in result["evaluations"] if e["decision"] == "promote"]
    assert len(promoted) == 2
    for e in promoted:
        assert e["gate_passed"] and e["hr_at_10"] >= e["gate_threshold"]
        assert e["hr_at_10"] > e["popularity_hr_at_10"]


def test_the_bad_canary_is_rolled_back_within_the_mttr(demo):
    _, result, _ = demo
    bad = releases(result, "bad")
    assert len(bad) == 1 and bad[0]["decision"] == "rollback"
    assert float(bad[0]["tags"]["release.analysis.canary.error_ratio"]) > 0.01
    assert float(bad[0]["tags"]["release.analysis.canary.requests"]) >= 100  # judged on evidence too
    champion = releases(result, "drift")[0]["version"]
    assert result["alias_history"][-1]["champion"] == champion
    assert result["alias_history"][-1]["challenger"] == champion  # the canary serves the champion again
    rollback = result["rollback"]
    assert rollback["first_error_at"] >= bad[0]["started"]
    assert 0 < rollback["detection_to_rollback_seconds"] < MTTR_SECONDS
    assert result["traffic"]["stable"]["errors"] == 0


def test_the_canary_alert_saw_the_bad_canary(demo):
    _, result, _ = demo
    alerts = result["alerts"]
    assert alerts["rules"] > 0
    assert "ModelCanaryErrorRateHigh" in alerts["firing"] + alerts["pending"]


def test_the_report_and_its_plots_are_written(demo):
    out, result, done = demo
    report = (out / "report.md").read_text()
    for plot in PLOTS:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
        assert f"]({plot})" in report
    assert f"{result['rollback']['detection_to_rollback_seconds']:.1f} s from first error to rollback" in report
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_service_stops_the_demo_with_one_line(tmp_path):
    # Only redis-server on PATH: the Pushgateway is missing, and the platform phase says so.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "redis-server").symlink_to("/usr/bin/redis-server")
    done = subprocess.run([str(PYTHON), "-m", "demo", "--size", "small", "--out", str(tmp_path / "out")], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("demo: platform: prometheus-pushgateway is not installed")
    # Found missing before anything started: no Airflow migration, no service, nothing to tear down.
    assert sorted(p.name for p in (tmp_path / "out" / "work").iterdir()) == []
