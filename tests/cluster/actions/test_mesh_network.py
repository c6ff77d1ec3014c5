"""restart_network and reset_service_mesh on the real API server (kwok runs the pods)."""

from __future__ import annotations

from typing import Any

from suture.actions import ActionContext, load_registry
from suture.actions.spec import LocalMemory
from suture.kube import KubeClient
from tests.conftest import deployment, ready_pods, wait_for

registry = load_registry()
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _run(kube: KubeClient, key: str) -> ActionContext:
    return ActionContext(kube=kube, idempotency_key=key, memory=LocalMemory())


def _daemonset(name: str) -> dict[str, Any]:
    body = deployment(name, 1)
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    return body


async def _pods(kube: KubeClient, namespace: str, app: str) -> dict[str, str]:
    """Ready pods of ``app`` by node: node -> pod uid."""
    pods = ready_pods(await kube.list("Pod", namespace, label_selector=f"app={app}"))
    return {p["spec"]["nodeName"]: p["metadata"]["uid"] for p in pods}


async def test_restart_network_restarts_only_that_nodes_pods_of_the_named_daemonsets(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create("DaemonSet", _daemonset("cni"), namespace)
    await kube.create("DaemonSet", _daemonset("logger"), namespace)
    nodes = [n["metadata"]["name"] for n in await kube.list("Node") if n["metadata"]["name"].startswith("node-")]

    async def everywhere(app: str) -> dict[str, str] | None:
        found = await _pods(kube, namespace, app)
        return found if set(nodes) <= set(found) else None

    cni = await wait_for(lambda: everywhere("cni"), what="a cni pod on every node")
    logger = await wait_for(lambda: everywhere("logger"), what="a logger pod on every node")
    node = nodes[0]
    params = {"node": node, "daemonSets": [f"{namespace}/cni"]}

    dry = await registry.invoke("restart_network", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert "would restart" in dry.message
    assert await _pods(kube, namespace, "cni") == cni

    ctx = _run(kube, "run-n/restart")
    result = await registry.invoke("restart_network", params, ctx)
    assert result.changed
    assert len(result.output["restarted"]) == 1

    async def replaced() -> dict[str, str] | None:
        now = await _pods(kube, namespace, "cni")
        return now if now.get(node) not in (None, cni[node]) else None

    after = await wait_for(replaced, what="a fresh cni pod on the node")
    assert {n: u for n, u in after.items() if n != node} == {n: u for n, u in cni.items() if n != node}
    assert await _pods(kube, namespace, "logger") == logger
    replay = await registry.invoke("restart_network", params, ctx)
    assert replay.output["alreadyGone"] == result.output["restarted"]
    assert (await _pods(kube, namespace, "cni"))[node] == after[node]  # the replacement is left alone


async def test_reset_service_mesh_rolls_the_workloads_with_a_sidecar(kube: KubeClient, namespace: str) -> None:
    meshed = deployment("web", 1)
    meshed["spec"]["template"]["spec"]["containers"].append({"name": "istio-proxy", "image": "istio/proxyv2"})
    linkerd = deployment("api", 1)
    linkerd["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "linkerd-proxy", "image": "linkerd/proxy", "restartPolicy": "Always"}
    ]
    for body in (meshed, linkerd, deployment("plain", 1)):
        await kube.create("Deployment", body, namespace)

    async def running() -> bool:
        return len(ready_pods(await kube.list("Pod", namespace))) == 3

    await wait_for(running, what="three running pods")
    dry = await registry.invoke("reset_service_mesh", {"namespace": namespace}, ActionContext(kube=kube, dry_run=True))
    assert "would roll 2 meshed workload(s)" in dry.message

    ctx = _run(kube, "run-m/mesh")
    result = await registry.invoke("reset_service_mesh", {"namespace": namespace}, ctx)
    assert result.changed
    assert result.output["workloads"] == ["Deployment/api (linkerd)", "Deployment/web (istio)"]
    stamps = {}
    for name in ("web", "api", "plain"):
        template = (await kube.get("Deployment", name, namespace))["spec"]["template"]
        stamps[name] = (template["metadata"].get("annotations") or {}).get(RESTARTED_AT)
    assert stamps == {"web": result.output["restartedAt"], "api": result.output["restartedAt"], "plain": None}
    before = {d["metadata"]["name"]: d["metadata"]["generation"] for d in await kube.list("Deployment", namespace)}
    await registry.invoke("reset_service_mesh", {"namespace": namespace}, ctx)
    after = {d["metadata"]["name"]: d["metadata"]["generation"] for d in await kube.list("Deployment", namespace)}
    assert after == before  # the replay rolled nothing twice
