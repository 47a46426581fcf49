#!/usr/bin/env bash
# Installs the real local tools the tests talk to, from Debian's packages:
#   redis-server            the serving image's cache tests run against a real Redis
#   prometheus              ships promtool, which unit-tests every alert rule, and the server
#                           the release controller's canary analysis is tested against
#   prometheus-pushgateway  receives the pipeline's gauges and the release decisions' metrics in tests
#   prometheus-alertmanager ships amtool, which checks the generated Alertmanager config
#   jq                      jq 1.6 (Debian bookworm), the version Firehose runs partition queries with
# Idempotent: does nothing when every tool is already on PATH.
set -euo pipefail

declare -A tool_package=(
  [redis-server]=redis-server
  [promtool]=prometheus
  [prometheus]=prometheus
  [prometheus-pushgateway]=prometheus-pushgateway
  [amtool]=prometheus-alertmanager
  [node]=nodejs
  [jq]=jq
)

missing=()
for tool in "${!tool_package[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tool_package[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing ${missing[*]}; run as root or install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: the tools only, not the exporters and web assets they recommend.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start their daemons where systemd runs; the tests start their own.
for svc in prometheus prometheus-alertmanager prometheus-pushgateway redis-server; do
  (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || true
done
