"""The PromQL name extraction the contract tests rely on must itself be right."""

from obs_support import metric_names


def test_functions_labels_and_grouping_are_not_metric_names():
    expr = ('histogram_quantile(0.99, sum by (predictor_name, le) '
            '(rate(seldon_api_executor_server_requests_seconds_bucket{namespace="recsys",le="0.1"}[5m]))) > 0.1')
    assert metric_names(expr) == {"seldon_api_executor_server_requests_seconds_bucket"}


def test_binary_operators_recording_rules_and_numbers():
    expr = ("kube_horizontalpodautoscaler_status_current_replicas >= on (namespace, horizontalpodautoscaler) "
            "kube_horizontalpodautoscaler_spec_max_replicas and on() model:slo_objective:ratio offset 5m "
            "> 1e3 * 8 * 86400 or vector(0) unless time() - up")
    assert metric_names(expr) == {
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "model:slo_objective:ratio",
        "up",
    }


def test_grafana_variables_and_label_values_queries():
    assert metric_names('sum(rate(model_server_requests_total{model="$model"}[$__rate_interval]))') == {
        "model_server_requests_total"}
    assert metric_names('label_values(model_server_model_info{model=~"$model"}, namespace)') == {
        "model_server_model_info"}
