"""The release workflow's "one click" (.github/workflows/release.yml) calls the release controller
with arguments and an environment it accepts, for every action the workflow offers: a flag the
CLI does not know, or a service address the workflow does not give, would fail every click."""
from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest
import yaml

from pipeline.release import cli
from pipeline.release.registry import ReleaseRefused

WORKFLOW = Path(__file__).resolve().parents[4] / ".github" / "workflows" / "release.yml"
CALL = re.compile(r"python -m pipeline release (?P<args>[^)\n]*)\)")


@functools.cache
def document() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def workflow() -> dict:
    doc = document()
    return doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as true


def release_step() -> str:
    scripts = [step["run"] for job in document()["jobs"].values() for step in job["steps"]
               if "-m pipeline release" in step.get("run", "")]
    assert len(scripts) == 1, scripts
    return scripts[0]


def exported(script: str) -> set[str]:
    """Names the script exports (export A=... \\ B=...)."""
    joined = script.replace("\\\n", " ")
    return {name for line in joined.splitlines() if line.strip().startswith("export ")
            for name in re.findall(r"\b([A-Z_]+)=", line)}


def actions() -> list[str]:
    options = workflow()["workflow_dispatch"]["inputs"]["action"]["options"]
    assert len(options) >= 2, options
    return options


@pytest.mark.parametrize("action", actions())
def test_each_action_of_the_workflow_is_a_call_the_controller_accepts(action, monkeypatch):
    script = release_step()
    calls = CALL.findall(script)
    assert len(calls) == 1, script
    argv = shlex.split(calls[0].replace('"$MODEL"', "recsys").replace('"$ACTION"', action)
                       .replace('"$REASON"', "'checked by hand'"))
    # What the controller reads from its environment, as the workflow sets it.
    for name in ("PUSHGATEWAY_URL", "PROMETHEUS_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    names = exported(script)
    assert "MLFLOW_TRACKING_URI" in names
    for name in names:
        monkeypatch.setenv(name, "http://127.0.0.1:1")
    args = cli._parser().parse_args(argv)
    cli._check(args)  # raises ReleaseRefused (exit 2 on every click) when the call cannot work
    assert (args.model, args.action, args.reason) == ("recsys", action, "checked by hand")


def test_the_check_refuses_what_the_workflow_once_sent(monkeypatch):
    # Without a Pushgateway (the workflow's first version), or with a flag an action lacks.
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    with pytest.raises(ReleaseRefused, match="no Pushgateway"):
        cli._check(cli._parser().parse_args(["recsys", "rollback", "--reason", "x"]))
    with pytest.raises(ReleaseRefused, match="unrecognized arguments"):
        cli._parser().parse_args(["recsys", "start", "--reason", "x"])
