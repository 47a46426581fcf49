"""The one way this platform installs a Helm chart: pinned version from the chart's official
repository, values in the preview, atomic upgrades."""
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str


def helm_release(name: str, pin: ChartPin, namespace: str, values: dict[str, Any],
                 opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=pin.chart,
        version=pin.version,
        repository_opts={"repo": pin.repository},
        namespace=namespace,
        # Namespaces are declared as objects of their own, so they show in the preview.
        create_namespace=False,
        values=values,
        # A failed upgrade rolls back instead of leaving a half-applied release.
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        opts=opts,
    )
