#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing:
# PostgreSQL 15 (the engine's production checkpointer is tested against a real
# server), Alertmanager 0.25 (the receiver's end-to-end tests post through a
# real one) and Prometheus 2.42 (`make demo` and its end-to-end test evaluate
# kube-prometheus' rules in it; the query_prometheus action is tested against
# it). Idempotent: with everything present it only looks and returns.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
# Debian's prometheus package: the demo's Prometheus, query_prometheus' tests, and promtool, which
# checks and unit-tests the chart's alerting rules.
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need+=(prometheus)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "[debian] installing ${need[*]}" >&2
sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_ apt-get update -qq >&2
# The packages' own services do not start in these containers; tests run their own servers.
$sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
