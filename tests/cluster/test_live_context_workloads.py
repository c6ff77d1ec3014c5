"""The live context of a StatefulSet's and a DaemonSet's pod on the real local control plane: their controllers
label each pod with its ControllerRevision, the receiver reads that revision (still three GETs: the pod, the
revision and the node) as the pod's rollout, with no more than the generated base RBAC grant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from suture.actions import load_registry
from suture.kube import KubeClient, KubeRequest, KubeResponse, connect
from suture.rbac import cluster_role, cluster_role_binding
from suture.webhook import ContextReader
from tests.cluster.identity import service_account_kubeconfig
from tests.conftest import wait_for


def _workload(kind: str, name: str) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": "db:1"}]}},
    }
    if kind == "StatefulSet":
        spec |= {"replicas": 1, "serviceName": name}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


class Counting:
    """The receiver's transport, counting the requests it sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def send(self, request: KubeRequest) -> KubeResponse:
        self.paths.append(request.path)
        response: KubeResponse = await self.inner.send(request)
        return response

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
async def receiver(kube: KubeClient, kubeconfig: str, namespace: str, tmp_path: Path) -> AsyncIterator[Counting]:
    """The transport of a client bound only to the generated ClusterRole without any action."""
    suffix = uuid.uuid4().hex[:6]
    role = cluster_role(load_registry(), actions=[])
    binding = cluster_role_binding(namespace=namespace, service_account="suture")
    role["metadata"]["name"] = binding["metadata"]["name"] = binding["roleRef"]["name"] = f"suture-ctx-{suffix}"
    await kube.create("ClusterRole", role)
    await kube.create("ClusterRoleBinding", binding)
    path = await service_account_kubeconfig(kube, kubeconfig, namespace, "suture", tmp_path / "sa.kubeconfig")
    client = await connect(path)
    counting = Counting(client.transport)
    try:
        yield counting
    finally:
        await client.close()
        await kube.delete("ClusterRoleBinding", binding["metadata"]["name"])
        await kube.delete("ClusterRole", role["metadata"]["name"])


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
async def test_a_pod_of_a_statefulset_or_daemonset_shows_its_recent_rollout(
    kind: str, kube: KubeClient, namespace: str, receiver: Counting
) -> None:
    await kube.create(kind, _workload(kind, "db"), namespace, api_version="apps/v1")

    async def labelled() -> Any:
        pods = await kube.list("Pod", namespace, label_selector="app=db")
        found = [p for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash")]
        return found[0] if found and found[0]["spec"].get("nodeName") else None

    pod = await wait_for(labelled, timeout=60, what=f"the {kind}'s pod, scheduled")
    name = pod["metadata"]["name"]
    context = await ContextReader(KubeClient(receiver), timeout=5.0).read({"namespace": namespace, "pod": name})
    assert context is not None
    assert context.recent_rollout is True  # its revision was created moments ago
    revisions = [p for p in receiver.paths if "/controllerrevisions/" in p]
    assert len(receiver.paths) == 3, receiver.paths  # the pod, its revision, its node
    (read,) = revisions
    assert read.rsplit("/", 1)[1].startswith("db-")
    assert await kube.get("ControllerRevision", read.rsplit("/", 1)[1], namespace, api_version="apps/v1")
