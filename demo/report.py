"""build/<out>/report.md and its plots, from the loop's result (result.json).

  versions.png  HR@10 and NDCG@10 of every version against the popularity baseline and its gate line
  drift.png     the drift share per checked window against the drift threshold
  canary.png    canary and stable error ratio and p99 over time, decisions marked
  aliases.png   champion and challenger over time
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from observability.release_queries import CANARY_MAX_ERROR_RATIO  # noqa: E402
from pipeline import drift as drift_rules  # noqa: E402
from pipeline import s3  # noqa: E402

K = 10


def traffic_summary(answers) -> dict:
    """Requests and 5xx per predictor, from the traffic generator's records."""
    out = {}
    for predictor in ("stable", "canary"):
        mine = [a for a in answers if a.predictor == predictor]
        out[predictor] = {"requests": len(mine), "errors": sum(a.status >= 500 for a in mine)}
    out["unanswered"] = sum(1 for a in answers if not a.predictor)
    out["records"] = [[round(a.at, 3), a.predictor, a.status, a.version, round(a.seconds, 4)] for a in answers]
    return out


def evaluations(result: dict) -> list[dict]:
    """Per released version: its evaluation report's HR@10, NDCG@10, baseline and gate threshold."""
    rows = []
    for release in result.get("releases", []):
        uri = release["tags"].get("evaluation") or _evaluation_uri(release, result)
        report = s3.get_json(uri)
        metrics, gate = report["metrics"], report["gates"]["accuracy"]
        rows.append({"version": release["version"], "role": release["role"], "decision": release["decision"],
                     "hr_at_10": metrics["candidate"][f"hr_at_{K}"], "ndcg_at_10": metrics["candidate"].get(f"ndcg_at_{K}"),
                     "popularity_hr_at_10": metrics["popularity"][f"hr_at_{K}"],
                     "champion_hr_at_10": (metrics.get("champion") or {}).get(f"hr_at_{K}"),
                     "baseline": report["baseline"], "gate_threshold": gate["threshold"], "gate_passed": gate["passed"],
                     "evaluated_customers": report["evaluated_customers"], "evaluation": uri})
    return rows


def _evaluation_uri(release: dict, result: dict) -> str:
    if release["role"] == "bad":
        return result["bad_candidate"]["evaluation"]
    run = datetime.fromisoformat(release["run_after"]).strftime("%Y%m%dT%H%M%S")
    return f"s3://pipeline-work/{result['model']}/{run}/evaluation.json"


def write(result: dict, out: Path) -> None:
    t0 = result["started_at"]
    _versions_plot(result["evaluations"], out / "versions.png")
    _drift_plot(result["drift"], out / "drift.png")
    _canary_plot(result, t0, out / "canary.png")
    _alias_plot(result, t0, out / "aliases.png")
    (out / "report.md").write_text(_markdown(result))


def _versions_plot(rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"v{r['version']} ({r['role']}, {r['decision']})" for r in rows]
    x = range(len(rows))
    ax.bar([i - 0.25 for i in x], [r["hr_at_10"] for r in rows], 0.25, label="HR@10")
    ax.bar(list(x), [r["ndcg_at_10"] or 0 for r in rows], 0.25, label="NDCG@10")
    ax.bar([i + 0.25 for i in x], [r["popularity_hr_at_10"] for r in rows], 0.25, label="popularity HR@10")
    for i, r in enumerate(rows):
        ax.hlines(r["gate_threshold"], i - 0.4, i + 0.4, colors="red", linestyles="dashed",
                  label="gate (baseline + min improvement)" if i == 0 else None)
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("on the run's holdout week")
    ax.set_title("Every version against the popularity baseline and its accuracy gate")
    ax.legend(fontsize=8)
    _save(fig, path)


def _drift_plot(windows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [w["current"] for w in windows]
    ax.bar(labels, [w["drift_share"] for w in windows], color=["tab:red" if w["detected"] else "tab:green" for w in windows],
           label="drifted share of columns")
    ax.plot(labels, [w["unseen_item_share"] or 0 for w in windows], "ko", label="unseen item share")
    ax.axhline(drift_rules.DRIFT_SHARE, color="red", linestyle="dashed", label=f"drift share threshold {drift_rules.DRIFT_SHARE:g}")
    ax.axhline(drift_rules.MAX_UNSEEN_ITEM_SHARE, color="grey", linestyle="dotted",
               label=f"unseen item threshold {drift_rules.MAX_UNSEEN_ITEM_SHARE:g}")
    ax.set_ylim(0, 1.05)
    ax.set_title("Drift per checked week (red: detected)")
    ax.legend(fontsize=8)
    _save(fig, path)


def _events(result: dict, t0: float) -> list[tuple[float, str]]:
    events = []
    for release in result.get("releases", []):
        events.append((_at(release["tags"], "start") - t0, f"v{release['version']} challenger"))
        events.append((_at(release["tags"], release["decision"]) - t0, f"v{release['version']} {release['decision']}"))
    if "rollback" in result:
        events.append((result["rollback"]["first_error_at"] - t0, "first canary 5xx"))
    return events


def _at(tags: dict, decision: str) -> float:
    key = {"start": "release.started_at", "promote": "release.promoted_at", "rollback": "release.rolled_back_at"}[decision]
    return datetime.fromisoformat(tags[key].replace("Z", "+00:00")).timestamp()


def _canary_plot(result: dict, t0: float, path: Path) -> None:
    fig, (errors, p99) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for predictor, style in (("stable", "tab:blue"), ("canary", "tab:orange")):
        data = result["series"][predictor]
        errors.plot([t - t0 for t, _ in data["error_ratio"]], [v for _, v in data["error_ratio"]], ".", ms=3,
                    color=style, label=predictor)
        p99.plot([t - t0 for t, _ in data["p99_seconds"]], [v * 1000 for _, v in data["p99_seconds"]], ".", ms=3,
                 color=style, label=predictor)
    errors.axhline(CANARY_MAX_ERROR_RATIO, color="red", linestyle="dashed", label="rollback above 1%")
    p99.axhline(result.get("slo_p99_ms", 100), color="red", linestyle="dashed", label="SLO p99")
    for at, label in _events(result, t0):
        for ax in (errors, p99):
            ax.axvline(at, color="grey", linewidth=0.8)
        errors.annotate(label, (at, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7, va="top")
    errors.set_ylabel("error ratio (10 s rate)")
    p99.set_ylabel("p99 ms (10 s rate)")
    p99.set_xlabel("seconds since the demo started")
    errors.legend(fontsize=8, loc="center left")
    p99.legend(fontsize=8, loc="center left")
    errors.set_title("The executor's series per predictor, as the canary analysis reads them")
    _save(fig, path)


def _alias_plot(result: dict, t0: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 2.8))
    history = result["alias_history"]
    for alias, offset, color in (("champion", 0.0, "tab:blue"), ("challenger", 0.1, "tab:orange")):
        xs = [h["at"] - t0 for h in history]
        ys = [int(h[alias]) + offset if h[alias] else None for h in history]
        ax.step(xs, [y if y is not None else float("nan") for y in ys], where="post", color=color, label=alias, marker="o")
    for h in history:
        ax.annotate(h["event"], (h["at"] - t0, int(h["champion"])), fontsize=7, xytext=(3, 6), textcoords="offset points")
    ax.set_ylabel("registry version")
    ax.set_xlabel("seconds since the demo started")
    ax.set_title("Aliases after each release decision")
    ax.legend(fontsize=8)
    _save(fig, path)


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%H:%M:%S")


def _markdown(result: dict) -> str:
    rows = result["evaluations"]
    lines = [f"# Local lifecycle demo ({result['size']} size)", "",
             f"Model `{result['model']}`, canary share {result['canary_percent']:g}%, canary window "
             f"{result['canary_window_seconds']} s; total wall time {result['total_seconds']:.0f} s.", "",
             "## Versions against the baseline and the gate", "", "![versions](versions.png)", "",
             "| version | role | baseline | HR@10 | NDCG@10 | popularity HR@10 | gate (HR@10 >=) | gate | decision |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| v{r['version']} | {r['role']} | {r['baseline']} | {r['hr_at_10']:.4f} | "
                     f"{(r['ndcg_at_10'] or 0):.4f} | {r['popularity_hr_at_10']:.4f} | {r['gate_threshold']:.4f} | "
                     f"{'passed' if r['gate_passed'] else 'failed'} | {r['decision']} |")
    lines += ["", "## Drift per window", "", "![drift](drift.png)", "",
              "| current week | drift share | unseen item share | detected | retrain task | asset events | DAGs queued |",
              "|---|---|---|---|---|---|---|"]
    for w in result["drift"]:
        lines.append(f"| {w['current']} | {w['drift_share']:.2f} | {(w['unseen_item_share'] or 0):.2f} | "
                     f"{w['detected']} | {w['retrain']} | {', '.join(w['asset_events']) or '-'} | {', '.join(w['queued']) or '-'} |")
    rb = result["rollback"]
    lines += ["", "## Canary analyses and decisions", "", "![canary](canary.png)", "",
              "| version | role | decision | analysis |", "|---|---|---|---|"]
    for release in result["releases"]:
        lines.append(f"| v{release['version']} | {release['role']} | {release['decision']} | "
                     f"{release['tags'].get('release.analysis.reason', '')} |")
    lines += ["", f"Bad candidate v{rb['version']}: {result['bad_candidate']['defect']}.",
              f"First failed canary request {_utc(rb['first_error_at'])} UTC, rollback decision "
              f"{_utc(rb['rolled_back_at'])} UTC: **{rb['detection_to_rollback_seconds']:.1f} s from first error to "
              "rollback** (seed MTTR target: 8 minutes)."]
    if rb.get("first_error_to_recovery_seconds") is not None:
        lines.append(f"The canary predictor served the champion again {rb['first_error_to_recovery_seconds']:.1f} s "
                     "after the first error (its next registry poll).")
    traffic = result["traffic"]
    lines += ["", f"Generated traffic: stable {traffic['stable']['requests']} requests ({traffic['stable']['errors']} 5xx), "
              f"canary {traffic['canary']['requests']} requests ({traffic['canary']['errors']} 5xx).",
              "", "## Alias history", "", "![aliases](aliases.png)", "", "| time (UTC) | event | champion | challenger |",
              "|---|---|---|---|"]
    for h in result["alias_history"]:
        lines.append(f"| {_utc(h['at'])} | {h['event']} | {h['champion']} | {h['challenger'] or '-'} |")
    alerts = result["alerts"]
    lines += ["", "## Alerts (local Prometheus, the platform's rule files)", "",
              f"{alerts['rules']} alerting rules loaded.", "",
              f"- firing: {', '.join(alerts['firing']) or 'none'}",
              f"- pending (condition true, `for:` not yet elapsed): {', '.join(alerts['pending']) or 'none'}",
              f"- silent: {', '.join(alerts['silent']) or 'none'}",
              "", "## Wall time per phase", "", "| phase | seconds |", "|---|---|"]
    for name, seconds in result["wall_seconds"].items():
        lines.append(f"| {name} | {seconds:.0f} |")
    lines.append(f"| **total** | **{result['total_seconds']:.0f}** |")
    if result.get("load_average"):
        lines += ["", "Load average at the end (1, 5, 15 min): " + ", ".join(f"{x:g}" for x in result["load_average"])
                  + f" on {os.cpu_count()} cores."]
    return "\n".join(lines) + "\n"


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
