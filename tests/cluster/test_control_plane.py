"""The local control plane behaves like a cluster: the ground every other cluster test stands on."""

from __future__ import annotations

from typing import Any

from suture.kube import KubeClient
from tests.conftest import deployment, ready_pods, wait_for


async def _ready(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    return ready_pods(await kube.list("Pod", namespace, label_selector=f"app={app}"))


async def test_version_is_stamped(kube: KubeClient) -> None:
    version = await kube.request("GET", "/version")
    assert version["gitVersion"].startswith("v1."), version
    assert version["major"] == "1"


async def test_nodes_are_ready(kube: KubeClient) -> None:
    nodes = await kube.list("Node")
    assert len(nodes) >= 3
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready, node["metadata"]["name"]
        assert ready[0]["status"] == "True", node["metadata"]["name"]


async def test_deployment_scales_and_replaces_pods(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 3), namespace)
    pods = await wait_for(lambda: _count(kube, namespace, 3), what="3 ready pods")
    assert len(pods) == 3

    await kube.patch("Deployment", "web", {"spec": {"replicas": 5}}, namespace, subresource="scale")
    pods = await wait_for(lambda: _count(kube, namespace, 5), what="5 ready pods")

    victim = pods[0]["metadata"]["name"]
    await kube.delete("Pod", victim, namespace, grace_period_seconds=0)

    async def replaced() -> list[dict[str, Any]] | None:
        current = await _ready(kube, namespace, "web")
        names = {p["metadata"]["name"] for p in current}
        return current if len(current) == 5 and victim not in names else None

    after = await wait_for(replaced, what="the deleted pod to be replaced")
    assert victim not in {p["metadata"]["name"] for p in after}


async def _count(kube: KubeClient, namespace: str, n: int) -> list[dict[str, Any]] | None:
    pods = await _ready(kube, namespace, "web")
    return pods if len(pods) == n else None


async def test_cordoned_node_gets_no_new_pods(kube: KubeClient, namespace: str) -> None:
    nodes = sorted(n["metadata"]["name"] for n in await kube.list("Node"))
    cordoned = nodes[0]
    await kube.patch("Node", cordoned, {"spec": {"unschedulable": True}})
    try:
        await kube.create("Deployment", deployment("spread", 6), namespace)

        async def six_ready() -> list[dict[str, Any]] | None:
            pods = await _ready(kube, namespace, "spread")
            return pods if len(pods) == 6 else None

        pods = await wait_for(six_ready, what="6 ready pods")
        placed = {p["spec"]["nodeName"] for p in pods}
        assert cordoned not in placed
        assert placed <= set(nodes[1:])
    finally:
        await kube.patch("Node", cordoned, {"spec": {"unschedulable": None}})


async def test_custom_resource_definition_is_served(kube: KubeClient) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.probe.suture.dev"},
        "spec": {
            "group": "probe.suture.dev",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Cluster",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                        }
                    },
                }
            ],
        },
    }
    await kube.create("CustomResourceDefinition", crd)
    try:

        async def established() -> bool:
            got = await kube.get("CustomResourceDefinition", "widgets.probe.suture.dev")
            conds = (got.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conds)

        await wait_for(established, what="the CRD to be established")
        body = {
            "apiVersion": "probe.suture.dev/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        }
        created = await kube.request("POST", "/apis/probe.suture.dev/v1/widgets", body=body)
        assert created["spec"]["size"] == 3
        fetched = await kube.request("GET", "/apis/probe.suture.dev/v1/widgets/w1")
        assert fetched["metadata"]["uid"] == created["metadata"]["uid"]
    finally:
        await kube.delete("CustomResourceDefinition", "widgets.probe.suture.dev")
