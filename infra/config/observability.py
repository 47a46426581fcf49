from pydantic import Field

from .base import Section


class ObservabilityConfig(Section):
    prometheus_replicas: int = Field(ge=1, le=3, description="Prometheus replicas (2 in HA: one can restart without a gap).")
    # The SLO dashboards and the 3-day burn-rate window read back 30 days.
    prometheus_retention_days: int = Field(ge=30, le=400, description="Metrics kept on the Prometheus volume.")
    prometheus_storage_gib: int = Field(ge=10, le=16384, description="Encrypted gp3 volume per Prometheus replica.")
    alertmanager_replicas: int = Field(ge=1, le=5, description="Alertmanager replicas (3 in HA: gossip needs a quorum).")
    pagerduty_escalation_policy: str = Field(
        default="", description="PagerDuty escalation policy ID for the services created when `pagerduty:token` is set."
    )
