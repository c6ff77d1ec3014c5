#!/usr/bin/env bash
# Start Suture's local control plane: a real kube-apiserver, etcd,
# kube-controller-manager and kube-scheduler, with kwok simulating nodes and
# pods, all on loopback. Idempotent: a running cluster is reused, a stopped one
# restarted, a broken one recreated. The last line printed is KUBECONFIG=<path>.
#
# Environment: SUTURE_CLUSTER (name, default "suture"), SUTURE_NODES (default 3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"

name="${SUTURE_CLUSTER:-suture}"
nodes="${SUTURE_NODES:-3}"
log() { printf '[cluster-up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

"$here/build-tools.sh" kube etcd kwok

export KWOK_WORKDIR="$SUTURE_CACHE/kwok"
kubeconfig="$SUTURE_CACHE/clusters/$name/kubeconfig"
mkdir -p "$(dirname "$kubeconfig")"
kwokctl="$SUTURE_BIN/kwokctl-$KWOK_VERSION/kwokctl"
kubectl="$SUTURE_BIN/kubectl-$KUBE_VERSION/kubectl"
start=$(date +%s.%N)

ready() { "$kubectl" --kubeconfig "$kubeconfig" --request-timeout=3s get --raw /readyz >/dev/null 2>&1; }

create() {
  log "creating cluster $name (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  # The Stage files replace kwok's built-in pod and node Stages (they repeat the
  # defaults and add the faults tests and `make demo` inject). Given at creation,
  # they are saved in the cluster's config, so `kwokctl start` after a stop
  # plays them again (Stages applied as CRDs did not survive a restart).
  "$kwokctl" create cluster --name "$name" --runtime binary \
    --config "$here/kwok/kwokctl.yaml" \
    --config "$here/kwok/stages/pod.yaml" \
    --config "$here/kwok/stages/node.yaml" \
    --kube-apiserver-binary "$SUTURE_BIN/kube-apiserver-$KUBE_VERSION/kube-apiserver" \
    --kube-controller-manager-binary "$SUTURE_BIN/kube-controller-manager-$KUBE_VERSION/kube-controller-manager" \
    --kube-scheduler-binary "$SUTURE_BIN/kube-scheduler-$KUBE_VERSION/kube-scheduler" \
    --kwok-controller-binary "$SUTURE_BIN/kwok-$KWOK_VERSION/kwok" \
    --etcd-binary "$SUTURE_BIN/etcd-$ETCD_VERSION/etcd" \
    --kubeconfig "$kubeconfig" \
    --wait 120s >&2
}

if "$kwokctl" get clusters 2>/dev/null | grep -x "$name" >/dev/null; then
  if ready; then
    log "cluster $name is already running"
  else
    log "cluster $name exists but is not serving; starting it"
    if ! "$kwokctl" start cluster --name "$name" --wait 60s >&2 || ! ready; then
      log "restart failed; recreating cluster $name"
      "$kwokctl" delete cluster --name "$name" >&2 || true
      create
    fi
  fi
else
  create
fi

for _ in $(seq 1 60); do ready && break; sleep 0.5; done
ready || { log "API server did not become ready"; exit 1; }

have_nodes=$("$kubectl" --kubeconfig "$kubeconfig" get nodes -o name 2>/dev/null | wc -l)
if [ "$have_nodes" -lt "$nodes" ]; then
  log "scaling kwok nodes to $nodes"
  "$kwokctl" scale node --name "$name" --replicas "$nodes" >&2
fi
"$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Ready node --all --timeout=60s >&2
log "ready in $(python3 -c "import time;print(f'{time.time()-$start:.1f}')")s"
echo "KUBECONFIG=$kubeconfig"
