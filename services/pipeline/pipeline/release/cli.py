"""`python -m pipeline release <model> start|analyze|promote|rollback`: one command per release step,
for the training DAG and for people (a rollback is one command).

Every action prints one JSON line (and writes it to --result-file, which the DAG reads as the
task's result), tags the version it concerns with `release.*` and pushes `mlops_release_*`.
Exit codes: 0 done; 3 `analyze` decided `wait` (too little canary traffic yet); 2 bad input
or a refused release (one line on stderr); 1 a service (MLflow, Prometheus, Pushgateway) failed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline.release import analysis, metrics, registry
from pipeline.release.registry import CANDIDATE, CHALLENGER, CHAMPION, ReleaseRefused

EXIT_BAD_INPUT, EXIT_SERVICE, EXIT_WAIT = 2, 1, 3
_WINDOW = re.compile(r"^[1-9][0-9]*[smh]$")
_MODEL = re.compile(r"^[A-Za-z0-9][\w.-]*$")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, not argparse's usage block
        raise ReleaseRefused(f"release: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pipeline release", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="registered model name (the model file's name)")
    common = _Parser(add_help=False)
    common.add_argument("--pushgateway", default=os.environ.get("PUSHGATEWAY_URL"),
                        help="Pushgateway URL for mlops_release_* (default: $PUSHGATEWAY_URL)")
    common.add_argument("--result-file", type=Path, help="also write the JSON result here (the DAG's XCom)")
    actions = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)

    start = actions.add_parser("start", parents=[common], help="a gated version becomes the challenger (canary)")
    start.add_argument("--version", help="registry version (default: the one register aliased `candidate`)")

    analyze = actions.add_parser("analyze", parents=[common], help="promote / rollback / wait from Prometheus")
    analyze.add_argument("--slo-p99-ms", type=float, required=True, help="the model file's slo.p99LatencyMs")
    analyze.add_argument("--window", default="10m", help="PromQL duration ending at --end (default 10m)")
    analyze.add_argument("--end", help="window end: Unix seconds or ISO 8601 (default: now; with --watch, "
                                       "the window after the release started)")
    analyze.add_argument("--checks", type=int, default=1,
                         help="analyses spread over the window; the first that calls for a rollback decides (default 1: "
                              "one, at the end)")
    analyze.add_argument("--watch", action="store_true",
                         help="the window is the one after `release start`: wait for each check time (the DAG's way)")
    analyze.add_argument("--min-requests", type=float, default=analysis.CANARY_MIN_REQUESTS)
    analyze.add_argument("--max-error-ratio", type=float, default=analysis.CANARY_MAX_ERROR_RATIO)
    analyze.add_argument("--namespace", help="the model's namespace (default: the model name)")
    analyze.add_argument("--prometheus", default=os.environ.get("PROMETHEUS_URL"),
                         help="Prometheus URL (default: $PROMETHEUS_URL)")

    promote = actions.add_parser("promote", parents=[common], help="champion <- challenger")
    promote.add_argument("--force", action="store_true", help="promote although the last analysis did not say so")
    promote.add_argument("--reason", help="recorded on the promoted version (the release workflow asks for one)")

    rollback = actions.add_parser("rollback", parents=[common], help="challenger <- champion, the bad version tagged")
    rollback.add_argument("--reason", help="recorded on the rolled-back version (default: the last analysis)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; argv are the arguments after `release`. Returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        _check(args)
        client = registry.client_from_env()
        result = _ACTIONS[args.action](client, args)
    except ReleaseRefused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (analysis.PrometheusError, OSError) as exc:
        print(f"release {getattr(args, 'action', '')}: {exc}", file=sys.stderr)
        return EXIT_SERVICE
    except Exception as exc:  # MLflow's own exceptions: one line, not a traceback
        from mlflow.exceptions import MlflowException

        if not isinstance(exc, MlflowException):
            raise
        print(f"release {args.action}: MLflow: {exc.message}", file=sys.stderr)
        return EXIT_SERVICE
    line = json.dumps(result, sort_keys=True)
    print(line)
    if args.result_file:
        args.result_file.parent.mkdir(parents=True, exist_ok=True)
        args.result_file.write_text(line)
    return EXIT_WAIT if result.get("decision") == analysis.WAIT else 0


def _check(args) -> None:
    if not _MODEL.match(args.model):
        raise ReleaseRefused(f"release: model {args.model!r} is not a registered model name")
    if not args.pushgateway:
        raise ReleaseRefused("release: no Pushgateway: give --pushgateway or set PUSHGATEWAY_URL "
                             "(every decision is recorded as mlops_release_* metrics)")
    if args.action == "start" and args.version is not None and not re.fullmatch(r"[1-9][0-9]*", args.version):
        raise ReleaseRefused(f"release start: --version must be a registry version number (got {args.version})")
    if args.action == "analyze":
        if not args.prometheus:
            raise ReleaseRefused("release analyze: no Prometheus: give --prometheus or set PROMETHEUS_URL")
        if not _WINDOW.match(args.window):
            raise ReleaseRefused(f"release analyze: --window must be a duration like 10m, 30s or 1h (got {args.window})")
        if args.slo_p99_ms <= 0:
            raise ReleaseRefused(f"release analyze: --slo-p99-ms must be > 0 (got {args.slo_p99_ms:g})")
        if not 0 < args.max_error_ratio < 1:
            raise ReleaseRefused(f"release analyze: --max-error-ratio must be between 0 and 1 (got {args.max_error_ratio:g})")
        if args.min_requests < 1:
            raise ReleaseRefused(f"release analyze: --min-requests must be >= 1 (got {args.min_requests:g})")
        try:
            analysis.check_times(0.0, _window_seconds(args.window), args.checks)
        except ValueError as exc:
            raise ReleaseRefused(f"release analyze: --checks {args.checks} over --window {args.window}: {exc}") from None
        args.end_time = None if args.end is None else _end_time(args.end)


def _window_seconds(window: str) -> int:
    return int(window[:-1]) * {"s": 1, "m": 60, "h": 3600}[window[-1]]


def _end_time(text: str | None) -> float:
    if text is None:
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReleaseRefused(f"release analyze: --end must be Unix seconds or ISO 8601 (got {text})") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _start(client, args) -> dict:
    now = time.time()
    current = registry.aliases(client, args.model)
    number = args.version or current.get(CANDIDATE)
    if number is None:
        raise ReleaseRefused(f"release start: {args.model} has no `{CANDIDATE}` alias (register sets it when the "
                             "gates pass); give --version N")
    failures = registry.gate_failures(registry.version(client, args.model, number))
    if failures:
        raise ReleaseRefused(f"release start: models:/{args.model}/{number} has not passed its gates: "
                             f"{'; '.join(failures)}")
    champion = current.get(CHAMPION)
    if champion == number and current.get(CHALLENGER) != number:
        raise ReleaseRefused(f"release start: models:/{args.model}/{number} is already the {CHAMPION}")
    if champion is None:
        # First release: nothing serves yet, so the candidate is also the stable model; the
        # canary analysis then watches it on both predictors before `promote` confirms it.
        registry.set_alias(client, args.model, CHAMPION, number)
    registry.set_alias(client, args.model, CHALLENGER, number)
    if current.get(CANDIDATE) == number:
        registry.delete_alias(client, args.model, CANDIDATE)  # it is the challenger now
    registry.record(client, args.model, number, {
        "decision": "start", "started_at": _iso(now), "champion_at_start": champion or "none"})
    after = {CHAMPION: champion or number, CHALLENGER: number}
    metrics.push_decision(args.pushgateway, args.model, "start", now)
    metrics.push_versions(args.pushgateway, args.model, after)
    return {"action": "start", "model": args.model, "version": number, "champion": after[CHAMPION],
            "first_release": champion is None}


def _analyze(client, args) -> dict:
    current = registry.aliases(client, args.model)
    number = current.get(CHALLENGER)
    if number is None:
        raise ReleaseRefused(f"release analyze: {args.model} has no `{CHALLENGER}`: start a release first")
    prometheus = analysis.Prometheus(args.prometheus)
    namespace = args.namespace or args.model
    limits = analysis.Thresholds(p99_seconds=args.slo_p99_ms / 1000, max_error_ratio=args.max_error_ratio,
                                 min_requests=args.min_requests)
    window_seconds = _window_seconds(args.window)
    end = args.end_time if args.end_time is not None else _window_end(client, args, number, window_seconds)
    times = analysis.check_times(end, window_seconds, args.checks)
    for check, at in enumerate(times, start=1):
        time.sleep(max(0.0, at - time.time()))  # --watch: the check's moment may be ahead
        last = check == len(times)
        # Each check looks at everything since the window began, never at time before it.
        duration = args.window if last else f"{math.ceil(at - (end - window_seconds))}s"
        windows = {p: analysis.measure(prometheus, namespace, args.model, p, duration, at)
                   for p in analysis.PREDICTORS}
        verdict = analysis.decide(windows["canary"], windows["stable"], limits)
        if last or verdict.decision == analysis.ROLLBACK:
            break
        metrics.push_analysis(args.pushgateway, args.model, windows)  # the dashboards follow the checks
    window = f"{duration} ending {_iso(at)}"
    fields = {"decision": verdict.decision, "analysis.decision": verdict.decision, "analysis.reason": verdict.reason,
              "analysis.window": window, "analysis.check": f"{check} of {len(times)}",
              "analysis.analyzed_at": _iso(time.time()),
              "analysis.thresholds": (f"error ratio <= {limits.max_error_ratio:g}, p99 <= {limits.p99_seconds:g}s, "
                                      f"requests >= {limits.min_requests:g}")}
    for predictor, measured in windows.items():
        for field, value in analysis.as_dict(measured).items():
            fields[f"analysis.{predictor}.{field}"] = "none" if value is None else f"{value:.6g}"
    registry.record(client, args.model, number, fields)
    metrics.push_analysis(args.pushgateway, args.model, windows)
    metrics.push_decision(args.pushgateway, args.model, verdict.decision, time.time())
    return {"action": "analyze", "model": args.model, "version": number, "decision": verdict.decision,
            "reason": verdict.reason, "window": window, "check": check, "checks": len(times),
            **{predictor: analysis.as_dict(measured) for predictor, measured in windows.items()}}


def _window_end(client, args, number: str, window_seconds: int) -> float:
    """Now; with --watch, the end of the window that began when `release start` made `number` the
    challenger (its release.started_at), or now when that has passed (a retry looks at the last
    window) or was never recorded (a challenger set by hand)."""
    now = time.time()
    started = registry.version(client, args.model, number).tags.get("release.started_at")
    if not args.watch or started is None:
        return now
    return max(now, _end_time(started) + window_seconds)


def _promote(client, args) -> dict:
    now = time.time()
    current = registry.aliases(client, args.model)
    number = current.get(CHALLENGER)
    if number is None:
        raise ReleaseRefused(f"release promote: {args.model} has no `{CHALLENGER}` to promote")
    last = registry.version(client, args.model, number).tags.get("release.analysis.decision")
    if last != analysis.PROMOTE and not args.force:
        raise ReleaseRefused(f"release promote: the last analysis of models:/{args.model}/{number} decided "
                             f"{last or 'nothing (never analyzed)'}, not promote; --force overrides")
    previous = current.get(CHAMPION)
    registry.set_alias(client, args.model, CHAMPION, number)
    # No challenger left: the canary predictor falls back to the champion.
    registry.delete_alias(client, args.model, CHALLENGER)
    registry.record(client, args.model, number, {
        "decision": "promote", "promoted_at": _iso(now), "previous_champion": previous or "none",
        "forced": "true" if args.force and last != analysis.PROMOTE else None, "promote_reason": args.reason})
    if previous and previous != number:
        registry.record(client, args.model, previous, {"superseded_by": number, "superseded_at": _iso(now)})
    metrics.push_decision(args.pushgateway, args.model, "promote", now)
    metrics.push_versions(args.pushgateway, args.model, {CHAMPION: number})
    return {"action": "promote", "model": args.model, "version": number, "previous_champion": previous}


def _rollback(client, args) -> dict:
    now = time.time()
    current = registry.aliases(client, args.model)
    bad, champion = current.get(CHALLENGER), current.get(CHAMPION)
    if bad is None:
        raise ReleaseRefused(f"release rollback: {args.model} has no `{CHALLENGER}`: no canary to roll back")
    if champion is None or champion == bad:
        raise ReleaseRefused(f"release rollback: nothing to roll back: the {CHALLENGER} models:/{args.model}/{bad} "
                             f"is the {CHAMPION} (rolled back already, or the first release)")
    reason = args.reason or registry.version(client, args.model, bad).tags.get(
        "release.analysis.reason", "rolled back by hand")
    registry.set_alias(client, args.model, CHALLENGER, champion)
    registry.record(client, args.model, bad, {"decision": "rollback", "rolled_back_at": _iso(now),
                                              "rollback_reason": reason, "replaced_by": champion})
    metrics.push_decision(args.pushgateway, args.model, "rollback", now)
    metrics.push_versions(args.pushgateway, args.model, {CHAMPION: champion, CHALLENGER: champion})
    return {"action": "rollback", "model": args.model, "version": bad, "champion": champion, "reason": reason}


_ACTIONS = {"start": _start, "analyze": _analyze, "promote": _promote, "rollback": _rollback}
