#!/usr/bin/env bash
# `make demo`: the closed loop, for real. Prometheus rules over the cluster's
# state fire alerts, Alertmanager routes them to Suture, Suture ranks its
# templates, remediates, and verifies the outcome by the alert resolving in
# Prometheus; one fault shows the ranking learning from an Ineffective fix.
#
#   1. tools and the local control plane (cluster "suture-demo", with kwok's
#      fault Stages), unless SUTURE_DEMO_KUBECONFIG names a cluster to use;
#   2. clean slate: the previous demo's processes (by recorded pid), namespaces,
#      templates and state are removed;
#   3. CRDs, namespaces shop and suture-demo, the templates the demo's alerts match;
#   4. on loopback: the kube-state-metrics stand-in (python -m suture.demo.ksm),
#      Prometheus 2.42 with kube-prometheus' rules (examples/demo/prometheus-rules.yaml),
#      Alertmanager 0.25 routing to Suture (bearer token, send_resolved) and `suture run`;
#   5. faults through kwok Stages (python -m suture.demo scenario), watched live:
#      a bad rollout crash-loops, a node reports MemoryPressure, two Deployments
#      are OOM-killed one after the other;
#   6. the learned effectiveness table and where to look.
#
# Everything keeps running afterwards so you can look around; `make demo-down`
# stops every process the demo started (by the pids recorded in its state
# directory) and removes the cluster. `make demo` again starts over.
#
# Environment: SUTURE_CLUSTER (default "suture-demo"), SUTURE_DEMO_KUBECONFIG
# (use that cluster instead; it must have been started with hack/kwok/stages).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=hack/versions.sh
. "$here/versions.sh"
cd "$repo"

export SUTURE_CLUSTER="${SUTURE_CLUSTER:-suture-demo}"
export SUTURE_NODES="${SUTURE_NODES:-3}"
kubectl_bin="$SUTURE_BIN/kubectl-$KUBE_VERSION/kubectl"
python=.venv/bin/python
suture=.venv/bin/suture
state="$SUTURE_CACHE/demo/$SUTURE_CLUSTER"
start=$(date +%s)
log() { printf '\n[demo %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - start))" "$*"; }
die() { printf '[demo] ERROR: %s\n' "$*" >&2; exit 1; }
kubectl() { "$kubectl_bin" --kubeconfig "$KUBECONFIG" "$@"; }

# ---------------------------------------------------------------------------
log "1/6 tools and cluster"
cold=()
[ -x "$kubectl_bin" ] || cold+=("Kubernetes $KUBE_VERSION, etcd, kwok from the Go module proxy: about 10 minutes on 2 cores")
[ -x .venv/bin/suture ] || cold+=("the Python virtualenv: about 2 minutes")
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/prometheus-alertmanager ] || cold+=("Debian's prometheus and prometheus-alertmanager: about 1 minute")
if [ ${#cold[@]} -gt 0 ]; then
  echo "Cold start: building what is missing first (cached afterwards; a warm demo takes about 3 minutes):"
  printf '  - %s\n' "${cold[@]}"
fi
make -s setup
"$here/build-tools.sh" kube etcd kwok
"$here/ensure-debian-packages.sh"

if [ -n "${SUTURE_DEMO_KUBECONFIG:-}" ]; then
  export KUBECONFIG="$SUTURE_DEMO_KUBECONFIG"
  echo "using the cluster of SUTURE_DEMO_KUBECONFIG=$KUBECONFIG (not created, not removed by the demo)"
else
  kc_line="$("$here/cluster-up.sh" | tail -n 1)"
  case "$kc_line" in KUBECONFIG=*) ;; *) die "cluster-up.sh did not print KUBECONFIG=<path> last: $kc_line" ;; esac
  export KUBECONFIG="${kc_line#KUBECONFIG=}"
  # The OOM fault keys on a memory limit below 64Mi; a cluster created before that Stage cannot show it.
  grep -q '67108864' "$SUTURE_CACHE/kwok/clusters/$SUTURE_CLUSTER/kwok.yaml" ||
    die "cluster $SUTURE_CLUSTER predates the fault Stages of hack/kwok/stages; recreate it: make demo-down && make demo"
fi
mkdir -p "$state"
echo "$KUBECONFIG" >"$state/kubeconfig-path"

# ---------------------------------------------------------------------------
log "2/6 clean slate"
"$python" -m suture.demo down --state "$state"
for ns in shop suture-demo; do
  kubectl get namespace "$ns" >/dev/null 2>&1 || continue
  # With the operator stopped, its finalizer would hold the namespace in Terminating forever.
  for rem in $(kubectl get remediations -n "$ns" -o name 2>/dev/null); do
    kubectl patch "$rem" -n "$ns" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
  done
  kubectl delete namespace "$ns" --wait=true --timeout=180s
done
kubectl delete clusterworkflowtemplate node-pressure-cordon --ignore-not-found >/dev/null 2>&1 || true
# The node the previous demo put under pressure and cordoned is healthy and schedulable again.
kubectl label nodes --all demo/node-fault- >/dev/null
kubectl uncordon $(kubectl get nodes -o name) >/dev/null
# Metrics, alerts, history and learned outcomes of the previous demo go too: it starts over.
rm -rf "$state"/{prometheus-data,alertmanager-data,suture-data,*.log}

# ---------------------------------------------------------------------------
log "3/6 CRDs, namespaces, templates"
kubectl apply -f crds/ >/dev/null
# A CRD created a moment ago may have no conditions yet, which `kubectl wait` reports as an error: retry.
for _ in $(seq 1 60); do
  kubectl wait --for condition=Established --timeout=30s crd/workflowtemplates.suture.dev \
    crd/clusterworkflowtemplates.suture.dev crd/remediations.suture.dev >/dev/null 2>&1 && break
  sleep 0.5
done
kubectl create namespace shop >/dev/null
kubectl create namespace suture-demo >/dev/null
kubectl apply -f examples/templates/pod-crashlooping.yaml -f examples/demo/templates/

# ---------------------------------------------------------------------------
log "4/6 ksm stand-in, Prometheus, Alertmanager and suture run on loopback (state and logs: $state)"
"$python" -m suture.demo up --state "$state" --kubeconfig "$KUBECONFIG"
kubectl get workflowtemplates -n shop
kubectl get clusterworkflowtemplates

# ---------------------------------------------------------------------------
log "5/6 faults, live: Prometheus alert states and what Suture does about them"
rc=0
"$python" -m suture.demo scenario --state "$state" --kubeconfig "$KUBECONFIG" || rc=$?

# ---------------------------------------------------------------------------
log "6/6 what Suture learned"
"$suture" stats --data-dir "$state/suture-data"

cat <<EOF

Look around (everything is still running):
  export KUBECONFIG=$KUBECONFIG
  $kubectl_bin get remediations -A
  $kubectl_bin get workflowtemplates -n shop; $kubectl_bin get clusterworkflowtemplates
  $kubectl_bin get remediation -n shop -o yaml      # status.recommendation, .steps, .verification
  Prometheus:    http://127.0.0.1:19090/alerts     (API: http://127.0.0.1:19090/api/v1/alerts)
  Alertmanager:  http://127.0.0.1:19093/api/v2/alerts
  Suture:        http://127.0.0.1:18080/metrics
  ksm stand-in:  http://127.0.0.1:18081/metrics
  logs:          $state/{suture,prometheus,alertmanager,ksm}.log
Stop everything and remove the cluster:  make demo-down
Start over:                              make demo
EOF
log "done in $(($(date +%s) - start))s"
[ "$rc" -eq 0 ] || die "the outcomes were not the expected Effective x3 and Ineffective x1 (see above and $state/suture.log)"
