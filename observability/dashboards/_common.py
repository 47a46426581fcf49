"""Shared panel and query builders for the platform dashboards (grafana-foundation-sdk)."""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

# kube-prometheus-stack provisions its Prometheus datasource with this uid.
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")
RATE = "$__rate_interval"
# The seed's latency promise, drawn on every latency panel.
LATENCY_LINE_SECONDS = 0.1

_REF_IDS = "ABCDEFGHIJ"


def new(uid: str, title: str, description: str) -> dashboard_builder.Dashboard:
    return (dashboard_builder.Dashboard(title).uid(uid).description(description).tags(["mlops"])
            .editable().time("now-6h", "now").refresh("1m").timezone("browser"))


def model_variable() -> dashboard_builder.QueryVariable:
    # The choices come from the served models themselves, so onboarding a model changes no
    # dashboard: a new models/<name>.yaml appears in the picker once its pods report.
    return (dashboard_builder.QueryVariable("model").label("Model").datasource(DATASOURCE)
            .query("label_values(model_server_model_info, model)")
            .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).sort(model.VariableSort.ALPHABETICAL_ASC))


def namespace_variable() -> dashboard_builder.QueryVariable:
    return (dashboard_builder.QueryVariable("namespace").label("Namespace").datasource(DATASOURCE)
            .query('label_values(model_server_model_info{model="$model"}, namespace)')
            .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD))


def _targets(queries: list[tuple[str, str]], instant: bool = False) -> list[prometheus.Dataquery]:
    targets = []
    for ref, (expr, legend) in zip(_REF_IDS, queries):
        target = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
        targets.append(target.instant() if instant else target.range())
    return targets


def _steps(lines: list[tuple[float, str]]) -> dashboard_builder.ThresholdsConfig:
    steps = [model.Threshold(value=None, color="green")] + [model.Threshold(value=v, color=c) for v, c in lines]
    return dashboard_builder.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def graph(title: str, unit: str, queries: list[tuple[str, str]], lines: list[tuple[float, str]] = (),
          description: str = "", width: int = 12) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
             .targets(_targets(queries)).height(8).span(width)
             .legend(common_builder.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                     .placement(common.LegendPlacement.BOTTOM).show_legend(True))
             .tooltip(common_builder.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    if lines:
        panel = panel.thresholds(_steps(list(lines))).thresholds_style(
            common_builder.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.LINE))
    return panel


def single(title: str, unit: str, expr: str, lines: list[tuple[float, str]] = (), description: str = "",
           width: int = 6) -> stat.Panel:
    return (stat.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
            .targets(_targets([(expr, "")], instant=True)).thresholds(_steps(list(lines))).height(5).span(width)
            .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))


def listing(title: str, expr: str, description: str = "", width: int = 12) -> table.Panel:
    target = _targets([(expr, "")], instant=True)[0].format(PromQueryFormat.TABLE)
    return (table.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets([target]).height(6).span(width).show_header(True))


def to_dict(builder: dashboard_builder.Dashboard) -> dict:
    """Plain JSON dict with sorted keys and panel ids numbered in layout order (stable across runs)."""
    document = json.loads(json.dumps(builder.build(), cls=JSONEncoder, sort_keys=True))
    for number, panel in enumerate(document.get("panels", []), start=1):
        panel["id"] = number
    return json.loads(json.dumps(document, sort_keys=True))
