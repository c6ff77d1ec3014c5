# Pinned versions of every tool the local control plane and tests use.
# Sourced by the other hack/ scripts; change a version here and the cache key
# (~/.cache/suture/bin/<tool>-<version>) changes with it, so nothing stale is reused.
KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
ALERTMANAGER_VERSION="${ALERTMANAGER_VERSION:-v0.34.2}"

SUTURE_CACHE="${SUTURE_CACHE:-$HOME/.cache/suture}"
SUTURE_BIN="$SUTURE_CACHE/bin"
