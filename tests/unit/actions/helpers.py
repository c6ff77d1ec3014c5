"""Contexts and objects the unit tests of the later actions share."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionContext
from suture.actions.spec import LocalMemory
from suture.kube import ResourceInfo
from tests.fakes.kubeapi import FakeKubeApi

VOLUME_SNAPSHOT = ResourceInfo("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "volumesnapshots", True)
EXTERNAL_SECRET = ResourceInfo("external-secrets.io/v1", "ExternalSecret", "externalsecrets", True)
CERTIFICATE = ResourceInfo("cert-manager.io/v1", "Certificate", "certificates", True)
CNPG_CLUSTER = ResourceInfo("postgresql.cnpg.io/v1", "Cluster", "clusters", True)


def run_ctx(api: FakeKubeApi, key: str = "run-1/step", **kw: Any) -> ActionContext:
    """A call of a run: its own idempotency key and memory, replayable by passing the same context again."""
    return ActionContext(kube=api.client(), idempotency_key=key, memory=LocalMemory(), poll_interval=0.01, **kw)


def workload(
    name: str, namespace: str = "shop", *, kind: str = "Deployment", pod_spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A workload with a pod template (the fakes' deployment() has none)."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": pod_spec or {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def claim(name: str = "data", namespace: str = "shop", phase: str = "Bound") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": phase},
    }
