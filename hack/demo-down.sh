#!/usr/bin/env bash
# `make demo-down`: stop every process `make demo` started (the pids it recorded
# under its state directory, each checked against its recorded command line)
# and remove the demo's cluster (not one given through SUTURE_DEMO_KUBECONFIG).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=hack/versions.sh
. "$here/versions.sh"
export SUTURE_CLUSTER="${SUTURE_CLUSTER:-suture-demo}"
state="$SUTURE_CACHE/demo/$SUTURE_CLUSTER"
if [ -d "$state" ]; then
  "$repo/.venv/bin/python" -m suture.demo down --state "$state"
fi
if [ -z "${SUTURE_DEMO_KUBECONFIG:-}" ]; then
  "$here/cluster-down.sh"
fi
rm -rf "$state"
