"""Cache dashboard: hit ratio and Redis errors as the model servers see them."""

from observability.dashboards._common import RATE, graph, model_variable, new

_CACHE = "model_server_cache_requests_total"


def build():
    return (new("mlops-cache", "MLOps / Cache", "Redis cache-aside behaviour of the model servers.")
            .with_variable(model_variable())
            .with_panel(graph("Hit ratio", "percentunit", [(
                f'sum(rate({_CACHE}{{model="$model",result="hit"}}[{RATE}]))'
                f' / sum(rate({_CACHE}{{model="$model"}}[{RATE}]))', "hit ratio")]))
            .with_panel(graph("Look-ups by result", "ops", [(
                f'sum by (result) (rate({_CACHE}{{model="$model"}}[{RATE}]))', "{{result}}")]))
            .with_panel(graph("Redis errors per pod", "ops", [(
                f'sum by (pod) (rate({_CACHE}{{model="$model",result="error"}}[{RATE}]))', "{{pod}}")],
                width=24, description="Errors fall back to the model; above 5% for 10 minutes RedisCacheErrorsHigh fires.")))
