"""Prometheus rules for one onboarded model, rendered from the SLOs in its onboarding file.

SLO and canary alerts read the Seldon executor's histogram: it measures what callers see,
including time spent queueing in front of the model server.
"""

from __future__ import annotations

import re

from observability import slo
from observability.metrics_contract import EXECUTOR_BUCKETS, EXECUTOR_ERROR_CODES
from observability.release_queries import (CANARY_MAX_ERROR_RATIO, CANARY_MIN_REQUESTS, EXECUTOR, error_ratio,
                                           executor_selector, latency_quantile, request_count)

TRAINING_TS = "mlops_training_last_success_timestamp_seconds"

# Weekly retraining plus a day of slack for a failed run that is retried the next day.
TRAINING_MAX_AGE_DAYS = 8
# Below this many canary requests in 5 minutes one failed request is already 1%:
# not enough evidence to wake someone up (the release controller waits below it too).
CANARY_MIN_REQUESTS_5M = CANARY_MIN_REQUESTS

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def model_rule_groups(
    model: str,
    namespace: str,
    team: str,
    availability_target: float,
    latency_threshold_seconds: float,
    canary_error_rate: float = CANARY_MAX_ERROR_RATIO,
    *,
    latency_target: float = 0.99,
) -> dict:
    """Rule file dict ({"groups": [...]}) for one model.

    latency_target is the share of requests that must be faster than the threshold; 0.99
    turns "p99 under 100 ms" into an SLO with a 1% budget of slow requests.
    """
    for label, value in (("model", model), ("namespace", namespace), ("team", team)):
        if not _NAME.match(value):
            raise ValueError(f"{label} {value!r} is not a lower-case DNS label")
    for label, value in (("availability_target", availability_target), ("latency_target", latency_target),
                         ("canary_error_rate", canary_error_rate)):
        if not 0 < value < 1:
            raise ValueError(f"{label} must be between 0 and 1, got {value}")
    if latency_threshold_seconds not in EXECUTOR_BUCKETS:
        raise ValueError(
            f"latency_threshold_seconds {latency_threshold_seconds} is not an executor histogram bucket "
            f"{EXECUTOR_BUCKETS}: the share of slow requests can only be counted at a bucket boundary")

    m = _Model(model, namespace, team, availability_target, latency_threshold_seconds,
               canary_error_rate, latency_target)
    return {"groups": [m.recording_group(), m.budget_group(), m.slo_alert_group(),
                       m.serving_alert_group(), m.pipeline_alert_group()]}


class _Model:
    def __init__(self, model, namespace, team, availability, threshold, canary_rate, latency_target):
        self.model, self.namespace, self.team = model, namespace, team
        self.availability, self.threshold = availability, threshold
        self.canary_rate, self.latency_target = canary_rate, latency_target
        self.executor = executor_selector(namespace, model)
        self.record_selector = f'{{model="{model}",namespace="{namespace}"}}'
        self.le = slo.number(threshold)

    # --- recording rules -------------------------------------------------------------
    def _labels(self, **extra) -> dict:
        return {"model": self.model, "namespace": self.namespace, **extra}

    def _sli_records(self, window: str) -> list[dict]:
        count = f"{EXECUTOR}_count"
        errors = (f'(\n  sum(rate({count}{{{self.executor},code=~"{EXECUTOR_ERROR_CODES}"}}[{window}]))\n'
                  f"  or vector(0)\n)\n/\nsum(rate({count}{{{self.executor}}}[{window}]))\n")
        slow = (f'1 - (\n  sum(rate({EXECUTOR}_bucket{{{self.executor},le="{self.le}"}}[{window}]))\n'
                f"  /\n  sum(rate({count}{{{self.executor}}}[{window}]))\n)\n")
        return [
            {"record": f"{slo.ERRORS_RECORD}{window}", "expr": errors, "labels": self._labels()},
            {"record": f"{slo.SLOW_RECORD}{window}", "expr": slow, "labels": self._labels()},
        ]

    def recording_group(self) -> dict:
        rules = [r for window in slo.ALERT_WINDOWS for r in self._sli_records(window)]
        rules += [
            {"record": slo.OBJECTIVE_RECORD, "expr": f"vector({slo.number(target)})",
             "labels": self._labels(slo=name)}
            for name, target in (("availability", self.availability), ("latency", self.latency_target))
        ]
        return {"name": f"model-{self.model}-sli", "rules": rules}

    def budget_group(self) -> dict:
        # Dashboard-only (budget left over 30 days): evaluated every 5m, the 30d rate is costly.
        return {"name": f"model-{self.model}-sli-{slo.SLO_WINDOW}", "interval": "5m",
                "rules": self._sli_records(slo.SLO_WINDOW)}

    # --- alerts ----------------------------------------------------------------------
    def _alert(self, name, expr, severity, for_, summary, description, runbook, **labels) -> dict:
        rule = {"alert": name, "expr": expr}
        if for_:
            rule["for"] = for_
        rule["labels"] = {"severity": severity, "team": self.team, **self._labels(), **labels}
        rule["annotations"] = {"summary": summary, "description": description, "runbook": runbook}
        return rule

    def slo_alert_group(self) -> dict:
        rules = []
        availability_budget = 1 - self.availability
        latency_budget = 1 - self.latency_target
        for burn in slo.BURN_ALERTS:
            speed = "fast" if burn.severity == "page" else "slow"
            rules.append(self._alert(
                "ModelAvailabilityBudgetBurn",
                slo.burn_expr(slo.ERRORS_RECORD, self.record_selector, availability_budget, burn),
                burn.severity, burn.for_,
                f"{self.model}: availability error budget burning {speed}",
                f"{{{{ $value | humanizePercentage }}}} of {self.model} requests failed over the long window; "
                f"the {slo.number(self.availability * 100)}% availability SLO allows "
                f"{slo.number(availability_budget * 100)}%.",
                f"Open the RED dashboard: if the errors come from the canary predictor, trigger the Airflow DAG "
                f"release_rollback_{self.model}; "
                "otherwise roll the SeldonDeployment back to the previous model version and read the "
                "model-server logs.",
            ))
            rules.append(self._alert(
                "ModelLatencyBudgetBurn",
                slo.burn_expr(slo.SLOW_RECORD, self.record_selector, latency_budget, burn),
                burn.severity, burn.for_,
                f"{self.model}: latency error budget burning {speed}",
                f"{{{{ $value | humanizePercentage }}}} of {self.model} requests took longer than "
                f"{self.le}s over the long window; the SLO allows {slo.number(latency_budget * 100)}%.",
                "Open the capacity dashboard: if the HPA is at its maximum or CPU is at the request, "
                "raise maxReplicas; if the cache hit ratio dropped, check Redis; "
                "if a new model version is slower, roll it back.",
            ))
        return {"name": f"model-{self.model}-slo-alerts", "rules": rules}

    def serving_alert_group(self) -> dict:
        count = f"{EXECUTOR}_count"
        # The same expressions the release controller evaluates (observability/release_queries.py).
        canary = executor_selector(self.namespace, self.model, "canary")
        canary_expr = (f"{error_ratio(canary, '5m')} > {slo.number(self.canary_rate)}\n"
                       f"and on()\n{request_count(canary, '5m')} >= {CANARY_MIN_REQUESTS_5M}\n")
        p99_expr = f"{latency_quantile(self.executor, '5m')} > {self.le}\n"
        rules = [
            self._alert(
                "ModelCanaryErrorRateHigh", canary_expr, "page", "5m",
                f"{self.model}: canary error rate above {slo.number(self.canary_rate * 100)}%",
                f"The canary predictor of {self.model} fails {{{{ $value | humanizePercentage }}}} of its requests "
                f"(stable is the baseline).",
                f"Roll the canary back: trigger the Airflow DAG release_rollback_{self.model} (or run "
                f"`python -m pipeline release {self.model} rollback`), then compare canary and stable logs.",
            ),
            self._alert(
                "ModelP99LatencyHigh", p99_expr, "ticket", "10m",
                f"{self.model}: p99 latency above {self.le}s",
                f"p99 latency of the {{{{ $labels.predictor_name }}}} predictor of {self.model} is "
                f"{{{{ $value | humanizeDuration }}}} (threshold {self.le}s) for 10 minutes.",
                "Open the RED and capacity dashboards: compare stable and canary, check HPA headroom, CPU "
                "throttling and the cache hit ratio; roll back a slower model version.",
            ),
            self._alert(
                "ModelNoTraffic", f"(sum(rate({count}{{{self.executor}}}[5m])) or vector(0)) == 0\n",
                "page", "5m",
                f"{self.model}: no requests reach the model",
                f"The Seldon executor of {self.model} in {self.namespace} has served no request for 10 minutes.",
                f"Check the ingress route and the SeldonDeployment: kubectl -n {self.namespace} get sdep,pods; "
                "then ask the calling service whether it is up.",
            ),
            self._alert(
                "ModelTargetDown", f'absent(up{{namespace="{self.namespace}"}} == 1)\n', "page", "5m",
                f"{self.model}: no scrape target in {self.namespace} is up",
                f"Prometheus cannot scrape any pod of {self.model} in {self.namespace}: the model is down "
                "or unobservable.",
                f"kubectl -n {self.namespace} get pods; describe the failing pod (image pull, OOM, failed "
                "readiness); if the pods run, check the PodMonitor selects their metrics port.",
            ),
        ]
        return {"name": f"model-{self.model}-serving-alerts", "rules": rules}

    def pipeline_alert_group(self) -> dict:
        selector = f'{{model="{self.model}"}}'
        rules = [
            self._alert(
                "ModelDataDriftDetected", f"max(mlops_data_drift_detected{selector}) == 1\n", "ticket", None,
                f"{self.model}: data drift detected",
                f"The last drift check of {self.model} flagged dataset drift; retraining should have been "
                "triggered.",
                "Open the pipeline dashboard for the drifted share; confirm in Airflow that the retraining "
                "run started; promote the retrained model only after its evaluation passes.",
            ),
            self._alert(
                "ModelTrainingStale",
                f"time() - max({TRAINING_TS}{selector}) > {TRAINING_MAX_AGE_DAYS} * 86400\n", "ticket", None,
                f"{self.model}: no successful training for over {TRAINING_MAX_AGE_DAYS} days",
                f"The last successful training of {self.model} finished {{{{ $value | humanizeDuration }}}} "
                "ago; retraining is weekly.",
                "Open the weekly retraining DAG in Airflow, fix the failed task and re-run it.",
            ),
            self._alert(
                "ModelTrainingStatusMissing", f"absent({TRAINING_TS}{selector})\n", "ticket", "1h",
                f"{self.model}: the pipeline reports no training status",
                f"No {TRAINING_TS} series for {self.model} in the Pushgateway: the pipeline never "
                "pushed it, or the Pushgateway lost it.",
                "Check the Pushgateway pod and that the DAG's final push task runs; re-run the DAG.",
            ),
        ]
        return {"name": f"model-{self.model}-pipeline-alerts", "rules": rules}
