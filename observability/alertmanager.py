"""Alertmanager configuration: who hears about which alert.

severity=page   -> PagerDuty (Events API v2), one service per team, a platform service for the rest
severity=ticket -> Slack channel of the environment (worked on in office hours)
Watchdog        -> a dead man's switch that raises the alarm when the heartbeat stops

No secret is written into the config: PagerDuty routing keys and the Slack webhook URL are
read from files that kube-prometheus-stack mounts from Kubernetes Secrets listed in
`alertmanager.alertmanagerSpec.secrets` (mounted at /etc/alertmanager/secrets/<secret>/<key>).
"""

from __future__ import annotations

import re

SECRETS_MOUNT = "/etc/alertmanager/secrets"
PAGERDUTY_SECRET = "alertmanager-pagerduty"
PLATFORM_ROUTING_KEY = "routing-key-platform"
SLACK_SECRET = "alertmanager-slack"
SLACK_WEBHOOK_KEY = "webhook-url"

TICKETS = "tickets-slack"
PAGES_PAGING_DISABLED = "pages-to-slack-paging-disabled"
PLATFORM_PAGER = "pagerduty-platform"
DEAD_MANS_SWITCH = "dead-mans-switch"
NULL = "null"

# Alerts that count as a page: ours, and kube-prometheus-stack's default rules' "critical".
PAGE_SEVERITIES = "page|critical"

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def routing_key(team: str) -> str:
    """Key, in the PagerDuty Secret, holding the routing key of the team's PagerDuty service."""
    return f"routing-key-{team}"


def secret_file(secret: str, key: str) -> str:
    return f"{SECRETS_MOUNT}/{secret}/{key}"


def pager_receiver(team: str) -> str:
    return f"pagerduty-{team}"


def pagerduty_secret_keys(teams: list[str]) -> list[str]:
    """Every key the PagerDuty Secret must hold when paging is enabled."""
    return [PLATFORM_ROUTING_KEY] + [routing_key(team) for team in sorted(set(teams))]


def alertmanager_config(
    environment: str,
    paging_enabled: bool,
    teams: list[str],
    *,
    dead_mans_switch_url: str | None = None,
) -> dict:
    """The alertmanager.yaml document for one environment.

    With paging disabled (no PagerDuty routing keys configured, e.g. dev) pages still reach a
    human: they go to the environment's Slack channel, titled as a page that paged nobody.
    Without dead_mans_switch_url the Watchdog is routed to a receiver with no integration:
    the heartbeat is not watched, and the README says so.
    """
    for name in [environment, *teams]:
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a lower-case DNS label")
    teams = sorted(set(teams))
    return {
        "route": _route(paging_enabled, teams),
        "inhibit_rules": _inhibit_rules(),
        "receivers": _receivers(environment, paging_enabled, teams, dead_mans_switch_url),
    }


def _route(paging_enabled: bool, teams: list[str]) -> dict:
    pages = {
        "receiver": PLATFORM_PAGER if paging_enabled else PAGES_PAGING_DISABLED,
        "matchers": [f'severity=~"{PAGE_SEVERITIES}"'],
        # The MTTR target is 8 minutes: a page goes out 10 s after its first alert, and is
        # repeated every hour until acknowledged-and-resolved (PagerDuty deduplicates).
        "group_wait": "10s",
        "repeat_interval": "1h",
    }
    if paging_enabled:
        pages["routes"] = [{"receiver": pager_receiver(team), "matchers": [f'team="{team}"']} for team in teams]
    return {
        "receiver": TICKETS,
        # One notification per alert and model: a burn on recsys and on search are two incidents.
        "group_by": ["alertname", "namespace", "model"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "12h",  # tickets: a reminder twice a day is enough
        "routes": [
            {
                "receiver": DEAD_MANS_SWITCH,
                "matchers": ['alertname="Watchdog"'],
                # The switch expects a ping every minute or two; it alarms after a few missed ones.
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1m",
            },
            # kube-prometheus-stack's helper alert that only exists to inhibit severity=info.
            {"receiver": NULL, "matchers": ['alertname="InfoInhibitor"']},
            pages,
        ],
    }


def _inhibit_rules() -> list[dict]:
    return [
        {   # The fast burn already paged for this model; its slow burn ticket adds nothing.
            "source_matchers": ['severity="page"'],
            "target_matchers": ['severity="ticket"'],
            "equal": ["alertname", "namespace", "model"],
        },
        {   # Scraping is broken cluster-wide: per-model silence is a consequence, not a cause.
            "source_matchers": ['alertname="ClusterScrapeTargetsDown"'],
            "target_matchers": ['alertname=~"ModelTargetDown|ModelNoTraffic"'],
        },
        {   # A model whose pods are all down has no traffic, by definition.
            "source_matchers": ['alertname="ModelTargetDown"'],
            "target_matchers": ['alertname="ModelNoTraffic"'],
            "equal": ["namespace", "model"],
        },
    ]


def _slack(environment: str, title_prefix: str) -> dict:
    return {
        "api_url_file": secret_file(SLACK_SECRET, SLACK_WEBHOOK_KEY),
        "send_resolved": True,
        "title": f"{title_prefix}[{environment}] "
                 "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.model }}",
        "text": "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
                "Runbook: {{ .Annotations.runbook }}\n{{ end }}",
    }


def _pagerduty(environment: str, key: str) -> dict:
    return {
        "routing_key_file": secret_file(PAGERDUTY_SECRET, key),
        # Events API v2 only knows critical|error|warning|info; our "page" would be rejected.
        "severity": "critical",
        "description": f"[{environment}] "
                       "{{ .CommonLabels.alertname }} {{ .CommonLabels.model }}: {{ .CommonAnnotations.summary }}",
        "details": {
            "environment": environment,
            "description": "{{ .CommonAnnotations.description }}",
            "runbook": "{{ .CommonAnnotations.runbook }}",
        },
        "send_resolved": True,
    }


def _receivers(environment, paging_enabled, teams, dead_mans_switch_url) -> list[dict]:
    receivers = [{"name": TICKETS, "slack_configs": [_slack(environment, "")]}]
    # The PagerDuty receivers are always in the configuration, so a review of any stack shows
    # who would be paged and with which key file. Paging off changes the route only: pages then
    # go to the Slack receiver below, and no route names a PagerDuty receiver (whose key file
    # is read only when a notification is sent, and whose Secret is mounted only with paging on).
    receivers.append({"name": PLATFORM_PAGER, "pagerduty_configs": [_pagerduty(environment, PLATFORM_ROUTING_KEY)]})
    receivers += [{"name": pager_receiver(team), "pagerduty_configs": [_pagerduty(environment, routing_key(team))]}
                  for team in teams]
    if not paging_enabled:
        receivers.append({"name": PAGES_PAGING_DISABLED,
                          "slack_configs": [_slack(environment, "[PAGE - paging disabled, nobody was paged] ")]})
    switch = {"name": DEAD_MANS_SWITCH}
    if dead_mans_switch_url:
        switch["webhook_configs"] = [{"url": dead_mans_switch_url, "send_resolved": False}]
    receivers += [switch, {"name": NULL}]
    return receivers
