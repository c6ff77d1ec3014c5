#!/usr/bin/env bash
# Stop Suture's local control plane and remove its state. Safe to run when no
# cluster exists.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
name="${SUTURE_CLUSTER:-suture}"
export KWOK_WORKDIR="$SUTURE_CACHE/kwok"
kwokctl="$SUTURE_BIN/kwokctl-$KWOK_VERSION/kwokctl"
if [ -x "$kwokctl" ] && "$kwokctl" get clusters 2>/dev/null | grep -x "$name" >/dev/null; then
  "$kwokctl" delete cluster --name "$name" >&2
fi
rm -rf "$SUTURE_CACHE/clusters/$name"
echo "cluster $name removed" >&2
