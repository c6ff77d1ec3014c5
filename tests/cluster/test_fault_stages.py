"""The kwok fault Stages of hack/kwok/stages/ on the control plane the tests run against.

`make demo` and the remediation tests rely on these faults looking like what a
real kubelet reports, and on kwok's default Stages (which the fault files
replace and repeat) still doing their job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from suture.kube import KubeClient
from tests.conftest import deployment, ready_pods, wait_for

GOOD, BAD, UNREADY = "nginx:1.27", "nginx:bad", "nginx:unready"
# A cluster created before hack/kwok/stages existed (e.g. one kept with
# SUTURE_KEEP_CLUSTER=1) plays only kwok's defaults: say so when a fault never shows.
STAGES_HINT = " (a cluster created before hack/kwok/stages has no fault Stages: recreate it with hack/cluster-down.sh)"


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind]
    assert found, f"{obj['metadata']['name']} has no {kind} condition: {obj.get('status')}"
    return found[0]


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


async def _live_pods(kube: KubeClient, namespace: str, selector: str) -> list[dict[str, Any]]:
    pods = await kube.list("Pod", namespace, label_selector=selector)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


async def _events(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    return await kube.list("Event", namespace, field_selector=f"involvedObject.name={name}")


def _pod(name: str, image: str = GOOD, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


def _pod_probe(kube: KubeClient, namespace: str, name: str, ok: Callable[[dict[str, Any]], bool]) -> Any:
    async def probe() -> dict[str, Any] | None:
        pod = await kube.get("Pod", name, namespace)
        return pod if ok(pod) else None

    return probe


def _crash_looping(pod: dict[str, Any]) -> bool:
    return ((_container(pod).get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"


async def _rolled_out(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment once every replica runs its current spec and it reports Available."""
    obj = await kube.get("Deployment", name, namespace)
    status, want = obj.get("status") or {}, obj["spec"]["replicas"]
    done = (
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("readyReplicas") == want
        and status.get("availableReplicas") == want
        and status.get("replicas") == want
        and any(c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions") or [])
    )
    return obj if done else None


async def _set_image(kube: KubeClient, namespace: str, name: str, image: str) -> None:
    """What `kubectl set image deployment/NAME main=IMAGE` sends."""
    body = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}
    await kube.patch("Deployment", name, body, namespace, patch_type="strategic")


async def test_bad_image_crash_loops_until_the_deployment_is_rolled_back(kube: KubeClient, namespace: str) -> None:
    web = deployment("web", 2, image=GOOD)
    # Recreate takes every good pod down first, so the bad image alone decides availability.
    web["spec"]["strategy"] = {"type": "Recreate"}
    await kube.create("Deployment", web, namespace)
    await wait_for(lambda: _rolled_out(kube, namespace, "web"), what="web to become Available on nginx:1.27")

    await _set_image(kube, namespace, "web", BAD)

    async def crashing() -> list[dict[str, Any]] | None:
        pods = await _live_pods(kube, namespace, "app=web")
        bad = [p for p in pods if p["spec"]["containers"][0]["image"] == BAD and _crash_looping(p)]
        return bad if len(bad) == 2 and len(pods) == 2 else None

    pods = await wait_for(crashing, timeout=60, what="both nginx:bad pods in CrashLoopBackOff" + STAGES_HINT)
    for pod in pods:
        container = _container(pod)
        assert container["ready"] is False, container
        assert container["restartCount"] >= 1, container
        assert container["lastState"]["terminated"]["exitCode"] == 1, container
        assert pod["status"]["phase"] == "Running"
        assert _condition(pod, "Ready")["status"] == "False"
        assert _condition(pod, "ContainersReady")["status"] == "False"

    name = pods[0]["metadata"]["name"]
    before = _container(pods[0])["restartCount"]
    restarted = await wait_for(
        _pod_probe(kube, namespace, name, lambda p: _crash_looping(p) and _container(p)["restartCount"] > before),
        timeout=45,
        what=f"{name}'s restartCount to rise above {before}",
    )
    assert _condition(restarted, "Ready")["status"] == "False"
    assert "BackOff" in {e["reason"] for e in await _events(kube, namespace, name)}

    async def unavailable() -> dict[str, Any] | None:
        obj = await kube.get("Deployment", "web", namespace)
        return obj if _condition(obj, "Available")["status"] == "False" else None

    broken = await wait_for(unavailable, what="web to report Available=False")
    assert not broken["status"].get("availableReplicas")

    await _set_image(kube, namespace, "web", GOOD)
    await wait_for(lambda: _rolled_out(kube, namespace, "web"), timeout=60, what="web Available again on nginx:1.27")
    pods = await _live_pods(kube, namespace, "app=web")
    assert [p["spec"]["containers"][0]["image"] for p in pods] == [GOOD, GOOD]
    assert len(ready_pods(pods)) == 2
    assert not any(_crash_looping(p) for p in pods)


async def test_plain_workloads_still_get_kwoks_default_stages(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("plain", 3), namespace)
    await wait_for(lambda: _rolled_out(kube, namespace, "plain"), what="a normal Deployment to become Available")
    pods = await _live_pods(kube, namespace, "app=plain")
    assert len(ready_pods(pods)) == 3
    for pod in pods:
        container = _container(pod)
        assert container["ready"] is True, container
        assert container["restartCount"] == 0, container
        assert "running" in container["state"], container
        assert pod["status"].get("podIP"), pod["status"]

    # pod-delete: a deleted pod goes away at once, not after its 30 s grace period.
    victim = pods[0]["metadata"]["name"]
    await kube.delete("Pod", victim, namespace)

    async def gone() -> bool:
        return await kube.get_or_none("Pod", victim, namespace) is None

    await wait_for(gone, timeout=10, what=f"{victim} to be removed")

    # pod-complete: a Job's pod runs to completion.
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": GOOD}]}},
        },
    }
    await kube.create("Job", job, namespace)

    async def complete() -> dict[str, Any] | None:
        got = await kube.get("Job", "once", namespace)
        done = [c for c in (got.get("status") or {}).get("conditions") or [] if c["type"] == "Complete"]
        return got if done and done[0]["status"] == "True" else None

    await wait_for(complete, what="the Job to complete")
    (pod,) = await kube.list("Pod", namespace, label_selector="job-name=once")
    assert pod["status"]["phase"] == "Succeeded"
    assert _container(pod)["state"]["terminated"]["reason"] == "Completed"


async def test_unready_image_runs_but_never_becomes_ready(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("stuck", 1, image=UNREADY), namespace)

    async def running() -> list[dict[str, Any]] | None:
        pods = await _live_pods(kube, namespace, "app=stuck")
        return pods if pods and pods[0]["status"].get("phase") == "Running" else None

    (pod,) = await wait_for(running, what="the nginx:unready pod to run")
    name = pod["metadata"]["name"]

    async def unhealthy() -> bool:
        return "Unhealthy" in {e["reason"] for e in await _events(kube, namespace, name)}

    await wait_for(unhealthy, what="the Unhealthy event" + STAGES_HINT)
    pod = await kube.get("Pod", name, namespace)
    container = _container(pod)
    assert container["started"] is True, container
    assert container["ready"] is False, container
    assert "running" in container["state"], container
    assert _condition(pod, "Ready")["status"] == "False"
    stuck = await kube.get("Deployment", "stuck", namespace)
    assert not stuck["status"].get("readyReplicas"), stuck["status"]
    assert _condition(stuck, "Available")["status"] == "False"


async def test_oom_annotation_kills_with_137_and_restarts(kube: KubeClient, namespace: str) -> None:
    await kube.create("Pod", _pod("hungry", annotations={"demo/fault": "oom"}), namespace)

    def oom_killed_once(pod: dict[str, Any]) -> bool:
        container = _container(pod)
        killed = (container.get("lastState") or {}).get("terminated") or {}
        return container.get("restartCount", 0) >= 1 and killed.get("reason") == "OOMKilled"

    pod = await wait_for(
        _pod_probe(kube, namespace, "hungry", oom_killed_once), timeout=45, what="an OOM kill" + STAGES_HINT
    )
    killed = _container(pod)["lastState"]["terminated"]
    assert killed["exitCode"] == 137, killed
    assert "OOMKilling" in {e["reason"] for e in await _events(kube, namespace, "hungry")}

    def killed_now(pod: dict[str, Any]) -> bool:
        return ((_container(pod).get("state") or {}).get("terminated") or {}).get("reason") == "OOMKilled"

    pod = await wait_for(_pod_probe(kube, namespace, "hungry", killed_now), timeout=45, what="the next OOM kill")
    assert _condition(pod, "Ready")["status"] == "False"
    assert _container(pod)["state"]["terminated"]["exitCode"] == 137


async def test_crashloop_annotation_heals_when_removed(kube: KubeClient, namespace: str) -> None:
    await kube.create("Pod", _pod("flaky", annotations={"demo/fault": "crashloop"}), namespace)
    pod = await wait_for(_pod_probe(kube, namespace, "flaky", _crash_looping), what="CrashLoopBackOff" + STAGES_HINT)
    assert _condition(pod, "Ready")["status"] == "False"

    await kube.patch("Pod", "flaky", {"metadata": {"annotations": {"demo/fault": None}}}, namespace)

    def healed(pod: dict[str, Any]) -> bool:
        return _condition(pod, "Ready")["status"] == "True" and _container(pod).get("ready") is True

    pod = await wait_for(_pod_probe(kube, namespace, "flaky", healed), what="the pod to recover")
    container = _container(pod)
    assert "running" in container["state"], container
    assert container["restartCount"] >= 1, container
    assert container["lastState"]["terminated"]["exitCode"] == 1, container


async def test_node_fault_label_sets_the_node_condition(kube: KubeClient) -> None:
    name = f"fault-{uuid.uuid4().hex[:8]}"
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"demo/node-fault": "NotReady", "kubernetes.io/hostname": name},
        },
        # Unschedulable: no other test's pod may land on a node this test deletes.
        "spec": {"unschedulable": True},
    }
    healthy_before = {
        n["metadata"]["name"] for n in await kube.list("Node") if _condition(n, "Ready")["status"] == "True"
    }
    await kube.create("Node", node)
    try:

        def node_probe(ok: Callable[[dict[str, Any]], bool]) -> Any:
            async def probe() -> dict[str, Any] | None:
                got = await kube.get("Node", name)
                return got if (got.get("status") or {}).get("conditions") and ok(got) else None

            return probe

        got = await wait_for(
            node_probe(lambda n: _condition(n, "Ready")["status"] == "False"),
            what=f"{name} to report Ready=False{STAGES_HINT}",
        )
        ready = _condition(got, "Ready")
        assert ready["reason"] == "KubeletNotReady", ready
        assert got["status"]["nodeInfo"]["kubeletVersion"].startswith("kwok-"), got["status"]["nodeInfo"]
        assert got["status"]["capacity"]["pods"], got["status"]
        # The fault is not reset by the default Stages: it still holds a moment later.
        await wait_for(
            node_probe(
                lambda n: any(t["key"] == "node.kubernetes.io/not-ready" for t in n["spec"].get("taints") or [])
            ),
            what="the controller-manager's not-ready taint",
        )
        assert _condition(await kube.get("Node", name), "Ready")["status"] == "False"
        others = {n["metadata"]["name"] for n in await kube.list("Node") if _condition(n, "Ready")["status"] == "True"}
        assert healthy_before <= others, "a fault on one node must leave the others Ready"

        await kube.patch("Node", name, {"metadata": {"labels": {"demo/node-fault": "MemoryPressure"}}})
        got = await wait_for(
            node_probe(
                lambda n: (
                    _condition(n, "MemoryPressure")["status"] == "True" and _condition(n, "Ready")["status"] == "True"
                )
            ),
            what="MemoryPressure=True with Ready=True",
        )
        assert _condition(got, "DiskPressure")["status"] == "False"

        await kube.patch("Node", name, {"metadata": {"labels": {"demo/node-fault": None}}})
        got = await wait_for(
            node_probe(
                lambda n: (
                    _condition(n, "Ready")["status"] == "True"
                    and all(c["status"] == "False" for c in n["status"]["conditions"] if c["type"] != "Ready")
                )
            ),
            what="the node to be healthy again once the label is gone",
        )
    finally:
        await kube.delete("Node", name)
