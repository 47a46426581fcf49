"""SLO dashboard: availability and latency against their objectives, budget left, burn rates."""

from observability import slo
from observability.dashboards._common import graph, model_variable, new, single

_SEL = '{model="$model"}'


def _objective(name: str) -> str:
    return f'(1 - {slo.OBJECTIVE_RECORD}{{model="$model",slo="{name}"}})'


def _budget_left(record: str, name: str) -> str:
    return f"1 - {record}{slo.SLO_WINDOW}{_SEL} / on (model, namespace) {_objective(name)}"


def _burn(record: str, name: str) -> list[tuple[str, str]]:
    # The windows the alerts read; a burn rate of 1 spends the budget in exactly 30 days.
    return [(f"{record}{w}{_SEL} / on (model, namespace) {_objective(name)}", w)
            for w in ("5m", "1h", "6h", "1d", "3d")]


# Page at 14.4x (1h) or 6x (6h); ticket at 3x (1d) or 1x (3d).
_BURN_LINES = [(1.0, "yellow"), (6.0, "orange"), (14.4, "red")]


def build():
    return (new("mlops-slo", "MLOps / SLOs", "Availability and latency SLOs per model, from the Seldon executor.")
            .with_variable(model_variable())
            .with_panel(single(f"Availability ({slo.SLO_WINDOW})", "percentunit",
                               f"1 - {slo.ERRORS_RECORD}{slo.SLO_WINDOW}{_SEL}"))
            .with_panel(single("Availability objective", "percentunit",
                               f'{slo.OBJECTIVE_RECORD}{{model="$model",slo="availability"}}'))
            .with_panel(single("Availability error budget left", "percentunit",
                               _budget_left(slo.ERRORS_RECORD, "availability"), [(0.0, "red")]))
            .with_panel(single("Latency error budget left", "percentunit",
                               _budget_left(slo.SLOW_RECORD, "latency"), [(0.0, "red")],
                               description="Budget of requests slower than the model's latency threshold."))
            .with_panel(graph("Availability burn rate", "none", _burn(slo.ERRORS_RECORD, "availability"), _BURN_LINES))
            .with_panel(graph("Latency burn rate", "none", _burn(slo.SLOW_RECORD, "latency"), _BURN_LINES))
            .with_panel(graph("Error ratio", "percentunit",
                              [(f"{slo.ERRORS_RECORD}{w}{_SEL}", w) for w in ("5m", "1h", "1d")]))
            .with_panel(graph("Share of slow requests", "percentunit",
                              [(f"{slo.SLOW_RECORD}{w}{_SEL}", w) for w in ("5m", "1h", "1d")])))
