"""Grafana dashboards as code. build_dashboards() gives file name -> dashboard JSON (a dict).

The Pulumi program ships each as a ConfigMap labelled for the Grafana sidecar of
kube-prometheus-stack (SIDECAR_LABEL), with render_dashboards() as the file contents.
"""

from __future__ import annotations

import json

from observability.dashboards import cache, capacity, gpu, pipeline, red, slo
from observability.dashboards._common import to_dict

# kube-prometheus-stack's Grafana sidecar loads ConfigMaps carrying this label.
SIDECAR_LABEL = {"grafana_dashboard": "1"}

_MODULES = {
    "mlops-slo.json": slo,
    "mlops-red.json": red,
    "mlops-capacity.json": capacity,
    "mlops-cache.json": cache,
    "mlops-gpu.json": gpu,
    "mlops-pipeline.json": pipeline,
}


def build_dashboards() -> dict[str, dict]:
    return {name: to_dict(module.build()) for name, module in sorted(_MODULES.items())}


def render_dashboards() -> dict[str, str]:
    """File name -> JSON text (sorted keys), ready for a ConfigMap's data."""
    return {name: json.dumps(board, indent=2, sort_keys=True) + "\n"
            for name, board in build_dashboards().items()}
