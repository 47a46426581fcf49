"""GPU dashboard: utilisation and framebuffer memory per node and GPU (dcgm-exporter)."""

from observability.dashboards._common import graph, new

_LEGEND = "{{Hostname}} GPU {{gpu}}"


def build():
    return (new("mlops-gpu", "MLOps / GPU", "GPU node utilisation and memory.")
            .with_panel(graph("GPU utilisation", "percent", [("DCGM_FI_DEV_GPU_UTIL", _LEGEND)],
                              [(5.0, "yellow"), (90.0, "red")],
                              description="Below 5% is idle (GPUNodeIdle), above 90% saturated (GPUNodeSaturated)."))
            .with_panel(graph("GPU memory used", "percentunit", [(
                "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", _LEGEND)], [(0.95, "red")]))
            .with_panel(graph("GPU memory used (MiB)", "decmbytes", [("DCGM_FI_DEV_FB_USED", _LEGEND)], width=24)))
