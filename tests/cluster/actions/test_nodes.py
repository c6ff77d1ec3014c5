"""Node actions against the real API server, on kwok nodes each test creates for itself.

The shared nodes (node-000000..2) are never cordoned or drained: other tests run
on them at the same time. Every test gets its own pool of fake nodes with a
unique label and a unique NoSchedule taint: its workloads are pinned to the
label and tolerate the taint, and nobody else's pods are scheduled there (nor
evicted by these tests).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import ApiError, KubeClient
from tests.conftest import deployment, ready_pods, wait_for

registry = load_registry()
POOL_LABEL = "suture.dev/test-pool"


class Pool:
    """Fake kwok nodes for one test, and manifests pinned to them."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.id = uuid.uuid4().hex[:8]
        self.nodes: list[str] = []

    async def node(self, *, cordoned: bool = False) -> str:
        name = f"pool-{self.id}-{len(self.nodes)}"
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {POOL_LABEL: self.id, "kubernetes.io/hostname": name},
            },
            "spec": {
                "taints": [{"key": POOL_LABEL, "value": self.id, "effect": "NoSchedule"}],
                **({"unschedulable": True} if cordoned else {}),
            },
        }
        await self.kube.create("Node", body)
        self.nodes.append(name)
        await wait_for(lambda: self._ready(name), what=f"node {name} ready")
        return name

    async def _ready(self, name: str) -> bool:
        # The node lifecycle controller lifts the not-ready taint a moment after
        # Ready; a spec read before that would not be the node's settled state.
        node = await self.kube.get("Node", name)
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])
        )
        tainted = any(t["key"] == "node.kubernetes.io/not-ready" for t in node["spec"].get("taints") or [])
        return ready and not tainted

    def deployment(self, name: str, replicas: int) -> dict[str, Any]:
        return deployment(
            name,
            replicas,
            nodeSelector={POOL_LABEL: self.id},
            tolerations=[{"key": POOL_LABEL, "operator": "Equal", "value": self.id, "effect": "NoSchedule"}],
        )

    async def pods_on(self, node: str, app: str | None = None) -> list[dict[str, Any]]:
        pods = await self.kube.list("Pod", self.namespace, field_selector=f"spec.nodeName={node}")
        return [p for p in pods if app is None or p["metadata"].get("labels", {}).get("app") == app]

    async def cleanup(self) -> None:
        # Workloads first, so that nothing recreates pods on nodes about to go;
        # pods left bound to a deleted node would linger until pod GC.
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            for obj in await self.kube.list(kind, self.namespace):
                await _ignore_missing(self.kube.delete(kind, obj["metadata"]["name"], self.namespace))
        for node in self.nodes:
            for pod in await self.pods_on(node):
                await _ignore_missing(
                    self.kube.delete("Pod", pod["metadata"]["name"], self.namespace, grace_period_seconds=0)
                )
        for node in self.nodes:
            await _ignore_missing(self.kube.delete("Node", node))


async def _ignore_missing(call: Any) -> None:
    try:
        await call
    except ApiError as exc:
        if not exc.not_found:
            raise


@pytest.fixture
async def pool(kube: KubeClient, namespace: str) -> AsyncIterator[Pool]:
    created = Pool(kube, namespace)
    try:
        yield created
    finally:
        await created.cleanup()


async def _count_on(pool: Pool, node: str, app: str, count: int) -> list[dict[str, Any]] | None:
    pods = ready_pods(await pool.pods_on(node, app))
    return pods if len(pods) == count else None


async def _not_found(name: str, params: dict[str, Any], kube: KubeClient) -> None:
    with pytest.raises(ActionError) as caught:
        await registry.invoke(name, params, ActionContext(kube=kube))
    assert caught.value.category is ErrorCategory.NOT_FOUND, caught.value


async def test_cordon_and_uncordon_undo_each_other(kube: KubeClient, pool: Pool) -> None:
    node = await pool.node()
    before = await kube.get("Node", node)
    assert "unschedulable" not in before["spec"]

    dry = await registry.invoke("cordon_node", {"name": node}, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.message == f"dry-run: would cordon Node {node}"
    assert (await kube.get("Node", node))["spec"] == before["spec"]

    ctx = ActionContext(kube=kube)
    assert not (await registry.invoke("uncordon_node", {"name": node}, ctx)).changed
    cordoned = await registry.invoke("cordon_node", {"name": node}, ctx)
    assert cordoned.changed
    assert cordoned.output == {"name": node, "unschedulable": True, "previous": None}
    assert (await kube.get("Node", node))["spec"]["unschedulable"] is True
    again = await registry.invoke("cordon_node", {"name": node}, ctx)
    assert not again.changed
    assert again.undo is None

    # The scheduler sees it: a pod pinned to the pool stays pending while the only node is cordoned.
    await kube.create("Deployment", pool.deployment("web", 1), pool.namespace)

    async def unschedulable() -> bool:
        pods = await kube.list("Pod", pool.namespace, label_selector="app=web")
        return any(
            c["type"] == "PodScheduled" and c["status"] == "False"
            for p in pods
            for c in p.get("status", {}).get("conditions", [])
        )

    await wait_for(unschedulable, what="the pod to be refused by the scheduler")

    assert cordoned.undo is not None
    undone = await registry.undo("cordon_node", cordoned.undo, ctx)
    assert undone.changed
    await wait_for(lambda: _spec_is(kube, node, before["spec"]), what="the node spec restored")
    await wait_for(lambda: _count_on(pool, node, "web", 1), what="the pod scheduled once uncordoned")
    assert not (await registry.undo("cordon_node", cordoned.undo, ctx)).changed

    await registry.invoke("cordon_node", {"name": node}, ctx)
    cordoned_spec = await wait_for(lambda: _settled_cordon(kube, node), what="the controller's unschedulable taint")
    dry_uncordon = await registry.invoke("uncordon_node", {"name": node}, ActionContext(kube=kube, dry_run=True))
    assert not dry_uncordon.changed
    assert (await kube.get("Node", node))["spec"] == cordoned_spec
    uncordoned = await registry.invoke("uncordon_node", {"name": node}, ctx)
    assert uncordoned.changed
    assert "unschedulable" not in (await kube.get("Node", node))["spec"]
    assert uncordoned.undo is not None
    await registry.undo("uncordon_node", uncordoned.undo, ctx)
    assert (await kube.get("Node", node))["spec"]["unschedulable"] is True

    for name in ("cordon_node", "uncordon_node"):
        await _not_found(name, {"name": f"pool-{pool.id}-missing"}, kube)


async def _settled_cordon(kube: KubeClient, node: str) -> dict[str, Any] | None:
    spec: dict[str, Any] = (await kube.get("Node", node))["spec"]
    tainted = any(t["key"] == "node.kubernetes.io/unschedulable" for t in spec.get("taints") or [])
    return spec if tainted else None


async def _spec_is(kube: KubeClient, node: str, spec: dict[str, Any]) -> bool:
    return bool((await kube.get("Node", node))["spec"] == spec)


async def test_drain_evicts_to_other_nodes_and_skips_daemonsets(kube: KubeClient, pool: Pool) -> None:
    source = await pool.node()
    target = await pool.node(cordoned=True)  # so that every pod starts on the source
    namespace = pool.namespace
    await kube.create("Deployment", pool.deployment("web", 3), namespace)
    daemonset = pool.deployment("agent", 1)
    daemonset["kind"] = "DaemonSet"
    del daemonset["spec"]["replicas"]
    await kube.create("DaemonSet", daemonset, namespace)
    node = await kube.get("Node", source)
    mirror = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "static-web",
            "annotations": {"kubernetes.io/config.mirror": "x", "kubernetes.io/config.source": "file"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": source, "uid": node["metadata"]["uid"], "controller": True}
            ],
        },
        "spec": {"nodeName": source, "containers": [{"name": "main", "image": "nginx:1.27"}]},
    }
    await kube.create("Pod", mirror, namespace)
    web = await wait_for(lambda: _count_on(pool, source, "web", 3), what="3 web pods on the source node")
    await wait_for(lambda: _count_on(pool, source, "agent", 1), what="the DaemonSet pod on the source node")
    await kube.patch("Node", target, {"spec": {"unschedulable": None}})
    web_uids = {p["metadata"]["uid"] for p in web}
    before = await kube.get("Node", source)

    dry = await registry.invoke("drain_node", {"name": source}, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.output["evictedCount"] == 3
    assert (await kube.get("Node", source))["spec"] == before["spec"]
    assert {p["metadata"]["uid"] for p in await pool.pods_on(source, "web")} == web_uids

    ctx = ActionContext(kube=kube, poll_interval=0.2)
    result = await registry.invoke("drain_node", {"name": source, "timeout": "30s"}, ctx)
    assert result.changed
    assert result.output["cordoned"]
    assert result.output["evicted"] == sorted(f"{namespace}/{p['metadata']['name']}" for p in web)
    skipped = {s["reason"]: s["pod"] for s in result.output["skipped"] if s["pod"].startswith(f"{namespace}/")}
    assert skipped["mirror pod"] == f"{namespace}/static-web"
    assert skipped["DaemonSet"].startswith(f"{namespace}/agent-")
    assert (await kube.get("Node", source))["spec"]["unschedulable"] is True
    assert not await pool.pods_on(source, "web")
    await wait_for(lambda: _count_on(pool, target, "web", 3), what="3 web pods rescheduled on the other node")
    assert len(await pool.pods_on(source, "agent")) == 1

    again = await registry.invoke("drain_node", {"name": source, "timeout": "30s"}, ctx)
    assert not again.changed
    assert "already cordoned" in again.message

    assert result.undo is not None
    assert "not moved back" in registry.get("drain_node").undo_description
    undone = await registry.undo("drain_node", result.undo, ctx)
    assert undone.changed
    await wait_for(lambda: _spec_is(kube, source, before["spec"]), what="the source node uncordoned")
    assert not await pool.pods_on(source, "web")  # nothing moves back

    await _not_found("drain_node", {"name": f"pool-{pool.id}-missing"}, kube)


async def _pdb_settled(kube: KubeClient, namespace: str, name: str) -> bool:
    pdb = await kube.get("PodDisruptionBudget", name, namespace)
    status = pdb.get("status", {})
    return status.get("observedGeneration") == pdb["metadata"]["generation"] and status.get("currentHealthy") == 2


async def test_drain_fails_clearly_when_a_disruption_budget_refuses(kube: KubeClient, pool: Pool) -> None:
    source = await pool.node()
    await pool.node()
    namespace = pool.namespace
    await kube.create("Deployment", pool.deployment("web", 2), namespace)
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-pdb"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
    }
    await kube.create("PodDisruptionBudget", pdb, namespace)
    await wait_for(lambda: _ready_anywhere(kube, namespace, 2), what="2 ready web pods")
    await wait_for(lambda: _pdb_settled(kube, namespace, "web-pdb"), what="the PDB to count the pods")
    on_source = {p["metadata"]["name"] for p in await pool.pods_on(source, "web")}
    if not on_source:  # the scheduler spread both elsewhere: drain the node that has them
        source = pool.nodes[1]
        on_source = {p["metadata"]["name"] for p in await pool.pods_on(source, "web")}

    dry = await registry.invoke("drain_node", {"name": source}, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.output["blocked"]
    assert "disruption budget" in dry.output["blocked"][0]["reason"]

    ctx = ActionContext(kube=kube, poll_interval=0.2)
    with pytest.raises(ActionError) as caught:
        await registry.invoke("drain_node", {"name": source, "timeout": "3s"}, ctx)
    error = caught.value
    assert error.category is ErrorCategory.TIMEOUT
    message = str(error)
    assert "disruption budget" in message
    assert f"PodDisruptionBudget {namespace}/web-pdb" in message
    assert any(f"pod {namespace}/{name}" in message for name in on_source)
    assert "within 3s" in message
    assert "stays cordoned" in message
    assert (await kube.get("Node", source))["spec"]["unschedulable"] is True
    assert {p["metadata"]["name"] for p in await pool.pods_on(source, "web")} == on_source


async def test_drain_retries_evictions_a_budget_refuses_for_a_while(kube: KubeClient, pool: Pool) -> None:
    source = await pool.node()
    target = await pool.node(cordoned=True)
    namespace = pool.namespace
    await kube.create("Deployment", pool.deployment("web", 2), namespace)
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-pdb"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }
    await kube.create("PodDisruptionBudget", pdb, namespace)
    web = await wait_for(lambda: _count_on(pool, source, "web", 2), what="2 web pods on the source node")
    await wait_for(lambda: _pdb_settled(kube, namespace, "web-pdb"), what="the PDB to count the pods")
    await kube.patch("Node", target, {"spec": {"unschedulable": None}})

    # Both evictions go at once; the budget lets one through and refuses the
    # other (429) until the first replacement is ready.
    ctx = ActionContext(kube=kube, poll_interval=0.2)
    result = await registry.invoke("drain_node", {"name": source, "timeout": "30s"}, ctx)
    assert result.output["evicted"] == sorted(f"{namespace}/{p['metadata']['name']}" for p in web)
    await wait_for(lambda: _count_on(pool, target, "web", 2), what="both pods rescheduled")


async def _ready_anywhere(kube: KubeClient, namespace: str, count: int) -> bool:
    return len(ready_pods(await kube.list("Pod", namespace, label_selector="app=web"))) == count


async def test_drain_refuses_unmanaged_pods_unless_forced(kube: KubeClient, pool: Pool) -> None:
    node = await pool.node()
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bare", "labels": {"app": "bare"}},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "nginx:1.27"}]},
    }
    await kube.create("Pod", bare, pool.namespace)
    await wait_for(lambda: _count_on(pool, node, "bare", 1), what="the bare pod running")
    ctx = ActionContext(kube=kube, poll_interval=0.2)

    with pytest.raises(ActionError) as caught:
        await registry.invoke("drain_node", {"name": node}, ctx)
    assert caught.value.category is ErrorCategory.INVALID
    assert f"{pool.namespace}/bare" in str(caught.value)
    assert "unschedulable" not in (await kube.get("Node", node))["spec"]

    forced = await registry.invoke("drain_node", {"name": node, "force": True, "timeout": "30s"}, ctx)
    assert forced.output["evicted"] == [f"{pool.namespace}/bare"]
    assert await kube.get_or_none("Pod", "bare", pool.namespace) is None


async def test_migrate_workload_moves_only_that_workload(kube: KubeClient, pool: Pool) -> None:
    source = await pool.node()
    target = await pool.node(cordoned=True)
    namespace = pool.namespace
    await kube.create("Deployment", pool.deployment("web", 2), namespace)
    await kube.create("Deployment", pool.deployment("other", 1), namespace)
    web = await wait_for(lambda: _count_on(pool, source, "web", 2), what="2 web pods on the source node")
    other = await wait_for(lambda: _count_on(pool, source, "other", 1), what="the other pod on the source node")
    # The action does not cordon; the test does, so that the replacements can only go to the target.
    await kube.patch("Node", target, {"spec": {"unschedulable": None}})
    await kube.patch("Node", source, {"spec": {"unschedulable": True}})
    params = {"namespace": namespace, "name": "web", "node": source, "timeout": "30s"}
    web_uids = {p["metadata"]["uid"] for p in web}

    dry = await registry.invoke("migrate_workload", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert len(dry.output["evicted"]) == 2
    assert {p["metadata"]["uid"] for p in await pool.pods_on(source, "web")} == web_uids

    ctx = ActionContext(kube=kube, poll_interval=0.2)
    result = await registry.invoke("migrate_workload", params, ctx)
    assert result.changed
    assert result.undo is None
    assert result.output["evicted"] == sorted(f"{namespace}/{p['metadata']['name']}" for p in web)
    assert "not cordoned" in result.message
    await wait_for(lambda: _count_on(pool, target, "web", 2), what="web rescheduled on the other node")
    assert not await pool.pods_on(source, "web")
    assert [p["metadata"]["uid"] for p in await pool.pods_on(source, "other")] == [other[0]["metadata"]["uid"]]

    again = await registry.invoke("migrate_workload", params, ctx)
    assert not again.changed
    assert again.output["evicted"] == []

    assert not registry.get("migrate_workload").reversible
    await _not_found("migrate_workload", {**params, "name": "nope"}, kube)
    await _not_found("migrate_workload", {**params, "kind": "StatefulSet"}, kube)
