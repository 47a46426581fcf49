"""Observability artifacts for the MLOps platform: alert rules, Alertmanager routing, dashboards.

Everything here is plain Python and plain Prometheus/Alertmanager/Grafana data, so the
Pulumi program can wrap it into Kubernetes resources and the tests can run the real
tools (promtool, amtool) over it without a cluster.
"""
