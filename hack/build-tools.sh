#!/usr/bin/env bash
# Build (once) and cache the binaries of the local control plane:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
# kwok, kwokctl and helm, all from the Go module proxy; and the newest
# Alertmanager, which the e2e tests run beside Debian's.
#
# Every tool lands in $SUTURE_BIN/<tool>-<version>/<tool>; a tool whose
# directory exists is skipped, so a warm run takes well under a second.
# Usage: hack/build-tools.sh [tool...]   (default: all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=hack/versions.sh
. "$here/versions.sh"

export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0
mkdir -p "$SUTURE_BIN"

log() { printf '[build-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# done_dir TOOL VERSION -> prints the cache dir; returns 0 if it is complete.
have() { [ -x "$SUTURE_BIN/$1-$2/$1" ]; }

# Install into a temp dir, then rename: an interrupted build never leaves a
# half-written cache entry that a later run would trust.
publish() { # tool version builtdir
  local dest="$SUTURE_BIN/$1-$2"
  rm -rf "$dest"
  mv "$3" "$dest"
  log "cached $1 $2 in $dest"
}

build_kube() {
  local v="$KUBE_VERSION" minor major
  if have kube-apiserver "$v" && have kube-controller-manager "$v" && have kube-scheduler "$v" && have kubectl "$v"; then return; fi
  log "building Kubernetes $v (apiserver, controller-manager, scheduler, kubectl); cold this takes about 6 minutes"
  local work; work="$(mktemp -d)"
  local out="$work/out"; mkdir -p "$out"
  # k8s.io/kubernetes replaces its staging modules with ./staging paths, so it
  # cannot be `go install`ed. A wrapper module requires it and points every
  # staging module at its published v0.X.Y twin of the same release.
  (cd "$work" && go mod download -json "k8s.io/kubernetes@$v" >"$work/dl.json")
  local gomod; gomod="$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["GoMod"])' "$work/dl.json")"
  local staging_v="v0.${v#v1.}"
  {
    echo "module suture.dev/kubebuild"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$gomod" | awk -v sv="$staging_v" '{print "replace " $1 " => " $1 " " sv}'
  } >"$work/go.mod"
  log "wrapper module replaces $(grep -c '^replace' "$work/go.mod") staging modules with $staging_v"
  minor="${v#v1.}"; minor="${minor%%.*}"; major=1
  local ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (
    cd "$work"
    printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' >tools.go
    go mod tidy >/dev/null 2>&1 || true
    for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      log "go build $cmd"
      go build -trimpath -ldflags "-s -w $ld" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    local d; d="$(mktemp -d "$SUTURE_BIN/.tmp.XXXX")"
    mv "$out/$cmd" "$d/$cmd"
    publish "$cmd" "$v" "$d"
  done
  rm -rf "$work"
}

build_etcd() {
  local v="$ETCD_VERSION"
  have etcd "$v" && return
  log "building etcd $v"
  local work; work="$(mktemp -d)"
  (
    cd "$work"
    printf 'module suture.dev/etcdbuild\n\ngo 1.26\n' >go.mod
    printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3/embed"\n' >tools.go
    go get "go.etcd.io/etcd/server/v3@$v" >/dev/null 2>&1
    go build -trimpath -ldflags "-s -w" -o "$work/out/etcd" go.etcd.io/etcd/server/v3
  )
  local d; d="$(mktemp -d "$SUTURE_BIN/.tmp.XXXX")"
  mv "$work/out/etcd" "$d/etcd"
  publish etcd "$v" "$d"
  rm -rf "$work"
}

go_install() { # tool version package
  local tool="$1" v="$2" pkg="$3"
  have "$tool" "$v" && return
  log "go install $pkg@$v"
  local d; d="$(mktemp -d "$SUTURE_BIN/.tmp.XXXX")"
  GOBIN="$d" go install -trimpath -ldflags "-s -w ${4:-}" "$pkg@$v"
  publish "$tool" "$v" "$d"
}

build_kwok() {
  go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
  go_install kwokctl "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwokctl
}

build_helm() {
  go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
}

# Alertmanager's newest releases (0.34) cannot be `go install`ed: the module zip
# lacks the web UI's built files that ui/web.go embeds. Built from the module
# source with a placeholder page instead; the API and the webhook are complete
# (only the web UI is blank). About 50 s cold.
build_alertmanager() {
  local v="$ALERTMANAGER_VERSION"
  have alertmanager "$v" && return
  log "building Alertmanager $v from its module source (placeholder web UI)"
  local work; work="$(mktemp -d)"
  local dir
  dir="$(cd "$work" && go mod download -json "github.com/prometheus/alertmanager@$v" |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')"
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  mkdir -p "$work/src/ui/app/dist"
  printf '<!doctype html><title>Alertmanager</title><p>Web UI not built; use the API.</p>\n' \
    >"$work/src/ui/app/dist/index.html"
  (
    cd "$work/src"
    go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
      -o "$work/out/alertmanager" ./cmd/alertmanager
  )
  local d; d="$(mktemp -d "$SUTURE_BIN/.tmp.XXXX")"
  mv "$work/out/alertmanager" "$d/alertmanager"
  publish alertmanager "$v" "$d"
  rm -rf "$work"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(kube etcd kwok helm alertmanager)
start=$(date +%s)
for t in "${tools[@]}"; do
  "build_$t"
done
log "tools ready in $(( $(date +%s) - start ))s"
