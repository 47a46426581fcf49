#!/usr/bin/env bash
# Installs the real local tools the tests talk to, from Debian's packages:
#   redis-server            the serving image's cache tests run against a real Redis
#   prometheus              ships promtool, which unit-tests every alert rule
#   prometheus-alertmanager ships amtool, which checks the generated Alertmanager config
#   prometheus-pushgateway  the training pipeline's tests push its gauges to a real one
# Idempotent: does nothing when every tool is already on PATH.
set -euo pipefail

declare -A tool_package=(
  [redis-server]=redis-server
  [promtool]=prometheus
  [amtool]=prometheus-alertmanager
  [prometheus-pushgateway]=prometheus-pushgateway
  [node]=nodejs
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
