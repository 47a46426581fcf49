"""Capacity dashboard: HPA headroom, CPU against requests, load per pod."""

from observability.dashboards._common import RATE, graph, model_variable, namespace_variable, new

_NS = 'namespace="$namespace"'


def build():
    return (new("mlops-capacity", "MLOps / Capacity", "Autoscaling headroom and resource use of a model.")
            .with_variable(model_variable())
            .with_variable(namespace_variable())
            .with_panel(graph("HPA replicas", "short", [
                (f"kube_horizontalpodautoscaler_status_current_replicas{{{_NS}}}", "current {{horizontalpodautoscaler}}"),
                (f"kube_horizontalpodautoscaler_status_desired_replicas{{{_NS}}}", "desired {{horizontalpodautoscaler}}"),
                (f"kube_horizontalpodautoscaler_spec_max_replicas{{{_NS}}}", "max {{horizontalpodautoscaler}}"),
            ], description="Current reaching max for 15 minutes raises HPAAtMaxReplicas."))
            .with_panel(graph("CPU used vs requested", "short", [
                (f'sum by (pod) (rate(container_cpu_usage_seconds_total{{{_NS},container!=""}}[{RATE}]))',
                 "used {{pod}}"),
                (f'sum by (pod) (kube_pod_container_resource_requests{{{_NS},resource="cpu"}})', "requested {{pod}}"),
            ]))
            .with_panel(graph("Requests per pod", "reqps", [(
                f'sum by (pod) (rate(model_server_requests_total{{{_NS},model="$model"}}[{RATE}]))', "{{pod}}")],
                width=24)))
