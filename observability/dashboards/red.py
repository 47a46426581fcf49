"""RED dashboard per model: rate, errors and duration, stable and canary predictors side by side."""

from observability.dashboards._common import LATENCY_LINE_SECONDS, RATE, graph, listing, model_variable, new
from observability.metrics_contract import EXECUTOR_ERROR_CODES

_EXEC = "seldon_api_executor_server_requests_seconds"
_SEL = 'deployment_name="$model"'


def _quantile(q: float) -> tuple[str, str]:
    return (f"histogram_quantile({q}, sum by (predictor_name, le) (rate({_EXEC}_bucket{{{_SEL}}}[{RATE}])))",
            f"p{int(q * 100)} {{{{predictor_name}}}}")


def build():
    return (new("mlops-red", "MLOps / Model RED", "Requests, errors and latency per model and predictor.")
            .with_variable(model_variable())
            .with_panel(graph("Requests per second", "reqps", [
                (f"sum by (predictor_name) (rate({_EXEC}_count{{{_SEL}}}[{RATE}]))", "{{predictor_name}}")]))
            .with_panel(graph("Error ratio", "percentunit", [(
                f'sum by (predictor_name) (rate({_EXEC}_count{{{_SEL},code=~"{EXECUTOR_ERROR_CODES}"}}[{RATE}]))'
                f" / sum by (predictor_name) (rate({_EXEC}_count{{{_SEL}}}[{RATE}]))", "{{predictor_name}}")],
                [(0.01, "red")], description="The red line is the 1% canary threshold."))
            .with_panel(graph("Latency p50 / p95 / p99", "s", [_quantile(0.5), _quantile(0.95), _quantile(0.99)],
                              [(LATENCY_LINE_SECONDS, "red")], width=24,
                              description="As callers see it (Seldon executor). The red line is 100 ms."))
            .with_panel(graph("Model server requests by route and code", "reqps", [(
                f'sum by (route, code) (rate(model_server_requests_total{{model="$model"}}[{RATE}]))',
                "{{route}} {{code}}")]))
            .with_panel(graph("Model server p99 by route", "s", [(
                f"histogram_quantile(0.99, sum by (route, le) "
                f'(rate(model_server_request_duration_seconds_bucket{{model="$model"}}[{RATE}])))', "{{route}}")],
                [(LATENCY_LINE_SECONDS, "red")]))
            .with_panel(graph("Inference p99 by version", "s", [(
                f"histogram_quantile(0.99, sum by (version, le) "
                f'(rate(model_server_inference_duration_seconds_bucket{{model="$model"}}[{RATE}])))',
                "{{version}}")], description="ONNX Runtime time only, without HTTP and cache."))
            .with_panel(graph("Popularity fallbacks per second by version", "reqps", [(
                f'sum by (version) (rate(model_server_fallback_recommendations_total{{model="$model"}}[{RATE}]))',
                "{{version}}")], description="Customers the model never saw in training, answered with "
                                             "the popularity ranking."))
            .with_panel(graph("Failed loads of a new version", "short", [(
                f'sum by (version) (increase(model_server_model_load_failures_total{{model="$model"}}[{RATE}]))',
                "{{version}}")], description="An alias moved to a version the pods could not load; "
                                             "they keep serving the previous one."))
            .with_panel(listing("Versions loaded by the pods",
                                'count by (version, source, alias, served_alias) '
                                '(model_server_model_info{model="$model"} == 1)')))
