"""Which cluster a command will talk to, checked before anything connects.

The Kubernetes client libraries report a missing kubeconfig or a misspelt
context as a ``ConfigException`` deep in a traceback, and kopf retries its
login forever. :func:`resolve_cluster` reads the kubeconfig the way they do
(``--kubeconfig``, else ``$KUBECONFIG``, a list of files; else the in-cluster
service account; else ``~/.kube/config``) and raises :class:`KubeconfigError`
with one sentence naming what is missing, so the CLI can say it and stop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_KUBECONFIG = "~/.kube/config"
# Where a pod finds its service account; the same test kubernetes' load_incluster_config makes.
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class KubeconfigError(Exception):
    """No usable cluster configuration; ``str()`` is one sentence naming what is missing."""


@dataclass(frozen=True)
class ClusterTarget:
    """The cluster a command will talk to."""

    kubeconfig: str | None
    """The kubeconfig path (or ``os.pathsep``-separated list) to load; None means the in-cluster account."""

    context: str | None
    """The context used; None in-cluster."""

    server: str
    """The API server's URL, for messages such as 'unreachable at ...'."""


def resolve_cluster(explicit: str | None, environ: Mapping[str, str] | None = None) -> ClusterTarget:
    """The cluster ``--kubeconfig`` (``explicit``), ``$KUBECONFIG``, the in-cluster account or ``~/.kube/config`` names.

    Reads files only; nothing connects. Raises KubeconfigError when no
    kubeconfig exists, a file cannot be read, no current context is set, the
    context or its cluster is not defined, or the cluster has no server.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return _from_files(explicit, source="--kubeconfig")
    if env.get("KUBECONFIG"):
        return _from_files(env["KUBECONFIG"], source="$KUBECONFIG")
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if host and port and SERVICE_ACCOUNT_TOKEN.exists():
        return ClusterTarget(kubeconfig=None, context=None, server=f"https://{host}:{port}")
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    if not os.path.exists(default):
        raise KubeconfigError(
            f"no kubeconfig found: --kubeconfig not given, $KUBECONFIG not set, {default} does not exist, "
            "and this is not a pod with a service account"
        )
    return _from_files(default, source="default")


def _from_files(paths: str, *, source: str) -> ClusterTarget:
    """Merge a kubeconfig list as kubectl does: the first file to set a value or define a name wins."""
    files = [p for p in paths.split(os.pathsep) if p]
    existing = [p for p in files if os.path.exists(os.path.expanduser(p))]
    if not existing:
        named = ", ".join(files)
        raise KubeconfigError(f"no kubeconfig found: {named} (from {source}) does not exist")
    current: str | None = None
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, Mapping[str, Any]] = {}
    for path in existing:
        doc = _read(path)
        current = current or doc.get("current-context") or None
        for entry in doc.get("contexts") or []:
            contexts.setdefault(str(entry.get("name")), entry.get("context") or {})
        for entry in doc.get("clusters") or []:
            clusters.setdefault(str(entry.get("name")), entry.get("cluster") or {})
    where = ", ".join(existing)
    if not current:
        raise KubeconfigError(f"kubeconfig {where} sets no current context (kubectl config use-context NAME)")
    if current not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise KubeconfigError(f"kubeconfig {where}: current context {current!r} is not defined (contexts: {known})")
    cluster_name = str(contexts[current].get("cluster") or "")
    server = str((clusters.get(cluster_name) or {}).get("server") or "")
    if not server:
        raise KubeconfigError(
            f"kubeconfig {where}: context {current!r} names cluster {cluster_name!r}, which has no server URL"
        )
    return ClusterTarget(kubeconfig=os.pathsep.join(existing), context=current, server=server)


def _read(path: str) -> Mapping[str, Any]:
    """One kubeconfig file as a mapping; KubeconfigError when it is unreadable or not a kubeconfig."""
    try:
        doc = yaml.safe_load(Path(os.path.expanduser(path)).read_text())
    except OSError as exc:
        raise KubeconfigError(f"kubeconfig {path} cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig (a YAML mapping)")
    return doc
