#!/usr/bin/env bash
# `make demo`: one real remediation on the local control plane, start to finish.
#
#   1. start the control plane (hack/cluster-up.sh; kwok fault Stages included),
#      install the CRDs, namespace `shop` and the example templates;
#   2. start the operator (`suture run --namespace shop`) in the background;
#   3. deploy `web` (3 x nginx:1.27), then roll out nginx:bad: the new pod
#      crash-loops (kwok's fault Stage for a ":bad" image tag);
#   4. create the Remediation the Alertmanager receiver will create for
#      KubePodCrashLooping (there is no receiver yet), after showing the plan
#      with `suture simulate`;
#   5. the run stops for approval; approve it with `suture approve`; the
#      Deployment is rolled back and Available again on nginx:1.27.
#
# Idempotent: a second run stops the previous demo's operator, deletes the
# namespace `shop` with everything in it and starts over on the same cluster.
# The operator is stopped at the end unless SUTURE_DEMO_KEEP_OPERATOR=1.
#
# Environment: SUTURE_CLUSTER (default "suture"), SUTURE_NODES (default 3),
# SUTURE_DEMO_KEEP_OPERATOR=1 to leave the operator running afterwards.
# Everything listens on loopback only: the control plane binds 127.0.0.1 and the
# operator opens no port (no liveness endpoint, no metrics port).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=hack/versions.sh
. "$here/versions.sh"
# Paths below are relative to the repository so the commands shown read as typed.
cd "$repo"

export SUTURE_CLUSTER="${SUTURE_CLUSTER:-suture}"
export SUTURE_NODES="${SUTURE_NODES:-3}"
keep_operator="${SUTURE_DEMO_KEEP_OPERATOR:-0}"
ns=shop
kubectl_bin="$SUTURE_BIN/kubectl-$KUBE_VERSION/kubectl"
suture=.venv/bin/suture
python=.venv/bin/python
# Demo state lives outside the repository, per cluster: operator data, log, pid.
state="$SUTURE_CACHE/demo/$SUTURE_CLUSTER"
data_dir="$state/data"
oplog="$state/operator.log"
pidfile="$state/operator.pid"
mkdir -p "$state"

start=$(date +%s)
log() { printf '\n[demo %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - start))" "$*"; }
note() { printf '[demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[demo %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
kubectl() { "$kubectl_bin" --kubeconfig "$KUBECONFIG" "$@"; }
# show CMD...: print the command as a reader would type it, then run it.
show() { printf '  $ %s\n' "$*"; "$@"; }

# wait_until SECONDS WHAT CMD...: poll CMD every half second until it succeeds.
wait_until() {
  local timeout="$1" what="$2" deadline
  shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    operator_alive || die "the operator exited while waiting for $what; its log: $oplog"
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
    sleep 0.5
  done
}

operator_pid=""
operator_alive() { [ -z "$operator_pid" ] || kill -0 "$operator_pid" 2>/dev/null; }

# Only ever signal the pid this script recorded, and only if it still is a
# `suture run` (a stale pid file may name an unrelated process by now).
stop_operator() { # pid
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'suture run' || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  note "operator $pid ignored SIGTERM for 10s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$operator_pid" ] && [ -f "$oplog" ]; then
    printf '\n[demo] failed (exit %s); last lines of the operator log %s:\n' "$rc" "$oplog" >&2
    tail -n 30 "$oplog" >&2 || true
  fi
  # Leave no orphan behind on failure or Ctrl-C; on success honour KEEP.
  if [ -n "$operator_pid" ] && { [ "$rc" -ne 0 ] || [ "$keep_operator" != 1 ]; }; then
    stop_operator "$operator_pid"
    rm -f "$pidfile"
  fi
}
trap on_exit EXIT

# ---------------------------------------------------------------------------
log "1/7 control plane: cluster $SUTURE_CLUSTER with $SUTURE_NODES kwok nodes"
kc_line="$("$here/cluster-up.sh" | tail -n 1)"
case "$kc_line" in KUBECONFIG=*) ;; *) die "cluster-up.sh did not print KUBECONFIG=<path> last: $kc_line" ;; esac
export KUBECONFIG="${kc_line#KUBECONFIG=}"
# A cluster created before hack/kwok/stages existed has only kwok's default
# Stages: nginx:bad would simply run. Refuse rather than recreate a cluster that
# other work may be using.
kwok_conf="$SUTURE_CACHE/kwok/clusters/$SUTURE_CLUSTER/kwok.yaml"
grep -q 'name: suture-pod-crashloop-start' "$kwok_conf" ||
  die "cluster $SUTURE_CLUSTER was created without the fault Stages of hack/kwok/stages; recreate it: make cluster-down && make demo"
show kubectl get nodes

# ---------------------------------------------------------------------------
log "2/7 clean slate: stop the previous demo's operator, delete namespace $ns"
if [ -f "$pidfile" ]; then
  stop_operator "$(cat "$pidfile")"
  rm -f "$pidfile"
fi
if kubectl get namespace "$ns" >/dev/null 2>&1; then
  # Remediations carry the operator's finalizer; with no operator running it
  # would never be removed and the namespace would hang in Terminating.
  for rem in $(kubectl get remediations -n "$ns" -o name 2>/dev/null); do
    kubectl patch "$rem" -n "$ns" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
  done
  show kubectl delete namespace "$ns" --wait=true --timeout=180s
fi
# Checkpoints of the previous demo's runs are of no use to the next one.
rm -rf "$data_dir"
mkdir -p "$data_dir"

# ---------------------------------------------------------------------------
log "3/7 install: CRDs, namespace $ns, example templates"
show kubectl apply -f crds/
kubectl wait --for condition=Established --timeout=60s \
  crd/workflowtemplates.suture.dev crd/clusterworkflowtemplates.suture.dev crd/remediations.suture.dev >/dev/null
show kubectl create namespace "$ns"
show kubectl apply -f examples/templates/

# ---------------------------------------------------------------------------
log "4/7 operator: suture run --namespace $ns (log: $oplog)"
: >"$oplog"
# The receiver listens on loopback only, behind a random token (the demo posts no webhooks).
mkdir -p "$data_dir"
head -c 24 /dev/urandom | base64 >"$data_dir/webhook-token"
KUBECONFIG="$KUBECONFIG" SUTURE_DATA_DIR="$data_dir" SUTURE_LISTEN_ADDRESS=127.0.0.1 \
  SUTURE_PORT="${SUTURE_DEMO_PORT:-18080}" SUTURE_WEBHOOK_TOKEN_FILE="$data_dir/webhook-token" \
  nohup "$suture" run --namespace "$ns" >>"$oplog" 2>&1 &
operator_pid=$!
echo "$operator_pid" >"$pidfile"
note "operator pid $operator_pid; waiting until it has validated the templates"
template_valid() {
  [ "$(kubectl get wft pod-crashlooping -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}')" = True ]
}
wait_until 90 "the operator to mark pod-crashlooping Valid" template_valid
show kubectl get wft -n "$ns"

# ---------------------------------------------------------------------------
log "5/7 workload: web, 3 x nginx:1.27, then a bad rollout (nginx:bad)"
# A short progress deadline makes the stuck rollout official within seconds
# (Progressing=False, ProgressDeadlineExceeded), as it would be after 10 minutes
# by default; `suture simulate` below relies on it to finish promptly.
cat >"$state/web.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: $ns
  labels: {app: web}
spec:
  replicas: 3
  progressDeadlineSeconds: 15
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
EOF
show kubectl apply -f "$state/web.yaml"
show kubectl rollout status deployment/web -n "$ns" --timeout=120s
show kubectl set image deployment/web -n "$ns" nginx=nginx:bad
crashing_pod() {
  kubectl get pods -n "$ns" -l app=web -o json | "$python" -c '
import json, sys
for pod in json.load(sys.stdin)["items"]:
    for c in pod.get("status", {}).get("containerStatuses") or []:
        if (c.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            print(pod["metadata"]["name"])
            raise SystemExit(0)
raise SystemExit(1)'
}
wait_until 60 "a web pod in CrashLoopBackOff" crashing_pod
pod="$(crashing_pod)"
note "revision $(kubectl get deployment web -n "$ns" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}') of web crash-loops; the old pods keep serving"
show kubectl get pods -n "$ns" -o wide
stuck() {
  [ "$(kubectl get deployment web -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')" = ProgressDeadlineExceeded ]
}
wait_until 60 "the rollout to exceed its progress deadline" stuck
note "the rollout is stuck: $(kubectl get deployment web -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Progressing")].message}')"

# ---------------------------------------------------------------------------
log "6/7 the alert: KubePodCrashLooping on $pod"
# What Alertmanager would post, and the Remediation the receiver would create
# from it. The fingerprint is Alertmanager's: FNV-1a 64 over the sorted labels.
"$python" - "$ns" "$pod" "$state" <<'PY'
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

namespace, pod, state = sys.argv[1], sys.argv[2], Path(sys.argv[3])
labels = {
    "alertname": "KubePodCrashLooping",
    "namespace": namespace,
    "pod": pod,
    "container": "nginx",
    "severity": "warning",
}
h = 0xCBF29CE484222325
for byte in b"".join(k.encode() + b"\xff" + labels[k].encode() + b"\xff" for k in sorted(labels)):
    h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
fingerprint = f"{h:016x}"
starts_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
annotations = {
    "summary": "Pod is crash looping.",
    "description": f"Pod {namespace}/{pod} (nginx) is in waiting state (reason: CrashLoopBackOff).",
}
alert = {"status": "firing", "labels": labels, "annotations": annotations, "startsAt": starts_at,
         "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint}
(state / "alert.json").write_text(json.dumps({"receiver": "suture", "status": "firing", "alerts": [alert]}, indent=2))
remediation = {
    "apiVersion": "suture.dev/v1alpha1",
    "kind": "Remediation",
    "metadata": {"name": f"crashloop-{fingerprint}", "namespace": namespace},
    "spec": {
        "templateRef": {"name": "pod-crashlooping"},
        "alert": {"name": labels["alertname"], "labels": labels, "annotations": annotations,
                  "fingerprint": fingerprint, "startsAt": starts_at},
    },
}
(state / "remediation.json").write_text(json.dumps(remediation, indent=2))
PY
rem="$("$python" -c 'import json,sys;print(json.load(open(sys.argv[1]))["metadata"]["name"])' "$state/remediation.json")"
note "the plan first (suture simulate: live lookups and server-side dry-run, nothing changes)"
show "$suture" simulate --template examples/templates/pod-crashlooping.yaml \
  --alert "$state/alert.json" --kubeconfig "$KUBECONFIG"
note "(in a simulation the rollback is only a server-side dry run, so wait-healthy still sees the stuck rollout)"
note "now the Remediation the receiver would create ($state/remediation.json)"
show kubectl create -f "$state/remediation.json"

# watch_phase SECONDS PHASE...: print the Remediation whenever its phase
# changes, until it reaches one of PHASEs; a different terminal phase fails.
watch_phase() {
  local timeout="$1" deadline last="" phase message
  shift
  deadline=$(($(date +%s) + timeout))
  while :; do
    # One read for both fields, so the message printed belongs to the phase.
    IFS=$'\t' read -r phase message < <(
      kubectl get remediation "$rem" -n "$ns" -o jsonpath='{.status.phase}{"\t"}{.status.message}{"\n"}' 2>/dev/null || echo
    ) || true
    if [ "$phase" != "$last" ]; then
      note "phase ${phase:-<none yet>}: $message"
      last="$phase"
    fi
    for want in "$@"; do [ "$phase" = "$want" ] && return 0; done
    case "$phase" in Failed | RolledBack | Cancelled) die "the Remediation ended $phase" ;; esac
    operator_alive || die "the operator exited; its log: $oplog"
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for phase $*"
    sleep 0.5
  done
}
watch_phase 120 WaitingApproval
show kubectl get remediation -n "$ns"
note "the run waits for a person; approving as $(kubectl auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null || echo 'the kubeconfig user')"
show "$suture" approve "$rem" -n "$ns" --reason "demo" --kubeconfig "$KUBECONFIG"
watch_phase 360 Verifying Succeeded  # Verifying: the steps are done, the alert's resolution is awaited

# ---------------------------------------------------------------------------
log "7/7 result"
show kubectl rollout status deployment/web -n "$ns" --timeout=60s
show kubectl get deployment web -n "$ns" \
  -o custom-columns='NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image,READY:.status.readyReplicas,AVAILABLE:.status.conditions[?(@.type=="Available")].status,REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision'
show kubectl get pods -n "$ns"
show kubectl get remediation -n "$ns"
note "the steps of $rem"
kubectl get remediation "$rem" -n "$ns" -o json | "$python" -c '
import json, sys
steps = json.load(sys.stdin)["status"].get("steps") or []
rows = [("STEP", "PHASE", "ATTEMPTS", "MESSAGE")] + [
    (s["name"], s.get("phase", ""), str(s.get("attempts", "")), s.get("message", "")) for s in steps
]
widths = [max(len(r[i]) for r in rows) for i in range(3)]
for r in rows:
    print("  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3][:110])'
note "its Events"
kubectl get events -n "$ns" --field-selector "involvedObject.kind=Remediation,involvedObject.name=$rem" -o json |
  "$python" -c '
import json, sys
events = sorted(json.load(sys.stdin)["items"], key=lambda e: int(e["metadata"]["resourceVersion"]))
for e in events:
    stamp = (e.get("lastTimestamp") or e["metadata"]["creationTimestamp"])[11:19]
    print("  {}  {:<7} {:<18} {}".format(stamp, e["type"], e["reason"], e["message"][:100]))'
note "approved by: $(kubectl get remediation "$rem" -n "$ns" -o jsonpath='{.status.approval.by} ({.status.approval.decision} at {.status.approval.at}, reason "{.status.approval.reason}")')"

# How to address this cluster again from make (it reads SUTURE_CLUSTER from the environment).
env_prefix=""
[ "$SUTURE_CLUSTER" = suture ] || env_prefix="SUTURE_CLUSTER=$SUTURE_CLUSTER "

# ---------------------------------------------------------------------------
log "done in $(($(date +%s) - start))s"
cat <<EOF

Look around:
  export KUBECONFIG=$KUBECONFIG
  $kubectl_bin get suture -n $ns
  $kubectl_bin get remediation $rem -n $ns -o yaml
  $kubectl_bin get events -n $ns --sort-by=.lastTimestamp
  operator log: $oplog
EOF
if [ "$keep_operator" = 1 ]; then
  cat <<EOF

The operator is still running (SUTURE_DEMO_KEEP_OPERATOR=1), pid $operator_pid:
  kill $operator_pid            # stop it (\`make demo\` again also stops it first)
EOF
else
  stop_operator "$operator_pid"
  rm -f "$pidfile"
  operator_pid=""
  cat <<EOF

The operator has been stopped (SUTURE_DEMO_KEEP_OPERATOR=1 make demo keeps it running).
EOF
fi
cat <<EOF
Stop the control plane:  ${env_prefix}make cluster-down
Run it again:            ${env_prefix}make demo   (starts over: namespace $ns is deleted and recreated)
EOF
