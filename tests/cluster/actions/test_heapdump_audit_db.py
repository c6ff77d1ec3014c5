"""create_heap_dump (ephemeral containers), audit_logs and failover_database (the CloudNativePG CRD) on the real API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.actions.spec import LocalMemory
from suture.kube import KubeClient
from tests.cluster.actions.thirdparty import cnpg_crd  # noqa: F401 - fixture
from tests.conftest import deployment, ready_pods, wait_for

registry = load_registry()
CNPG_API = "postgresql.cnpg.io/v1"


def _run(kube: KubeClient, key: str, **kw: Any) -> ActionContext:
    return ActionContext(kube=kube, idempotency_key=key, memory=LocalMemory(), poll_interval=0.1, **kw)


async def _one_pod(kube: KubeClient, namespace: str, app: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        pods = ready_pods(await kube.list("Pod", namespace, label_selector=f"app={app}"))
        return pods[0] if len(pods) == 1 else None

    pod: dict[str, Any] = await wait_for(found, what=f"one ready {app} pod")
    return pod


async def test_heap_dump_adds_an_ephemeral_container_once_and_reports_its_status(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create("Deployment", deployment("jvm", 1), namespace)
    pod = (await _one_pod(kube, namespace, "jvm"))["metadata"]["name"]
    command = ["jcmd", "1", "GC.heap_dump", "/tmp/h.hprof"]
    params = {"namespace": namespace, "name": pod, "command": command, "wait": "0s"}
    dry = await registry.invoke("create_heap_dump", params, ActionContext(kube=kube, dry_run=True))
    assert "would add debug container" in dry.message
    assert not (await kube.get("Pod", pod, namespace))["spec"].get("ephemeralContainers")

    ctx = _run(kube, "run-h/dump", remediation=f"{namespace}/oom")
    result = await registry.invoke("create_heap_dump", params, ctx)
    assert result.changed
    (container,) = (await kube.get("Pod", pod, namespace))["spec"]["ephemeralContainers"]
    assert container["name"] == result.output["container"]
    assert container["command"] == ["jcmd", "1", "GC.heap_dump", "/tmp/h.hprof"]
    assert container["targetContainerName"] == "main"
    # kwok runs no container: the API server stored the request, no kubelet reported a status. Said as it is.
    assert result.output["state"] == "no status reported: no kubelet has started it"
    await registry.invoke("create_heap_dump", params, ctx)
    assert len((await kube.get("Pod", pod, namespace))["spec"]["ephemeralContainers"]) == 1
    with pytest.raises(ActionError, match="did not finish within 1s") as caught:
        await registry.invoke("create_heap_dump", {**params, "wait": "1s"}, ctx)
    assert caught.value.category is ErrorCategory.TIMEOUT


async def test_audit_logs_stores_the_rollout_history_and_field_managers(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 1), namespace)
    newer = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}
    await kube.patch("Deployment", "web", newer, namespace)

    async def two_revisions() -> bool:
        # The controller manager writes the Deployment's status after it creates the ReplicaSet: wait for
        # both, so its field manager is in the Deployment when the action reads it.
        web = await kube.get("Deployment", "web", namespace)
        observed = (web.get("status") or {}).get("observedGeneration") == web["metadata"]["generation"]
        return observed and len(await kube.list("ReplicaSet", namespace)) == 2

    await wait_for(two_revisions, what="two ReplicaSets and the Deployment's status observed")
    result = await registry.invoke("audit_logs", {"namespace": namespace, "name": "web"}, ActionContext(kube=kube))
    assert result.changed
    cm = await kube.get("ConfigMap", result.output["configMap"], namespace)
    bundle = json.loads(cm["data"]["audit.json"])
    assert [r["images"] for r in bundle["revisions"]] == [["nginx:1.27"], ["nginx:1.28"]]
    assert [r["revision"] for r in bundle["revisions"]] == [1, 2]
    assert "kube-controller-manager" in {m["manager"] for m in bundle["managedFields"]}
    assert bundle["problems"] == [] or all("remediations" in p for p in bundle["problems"])


@pytest.mark.usefixtures("cnpg_crd")
async def test_failover_database_requests_a_cnpg_switchover_and_undo_asks_back(
    kube: KubeClient, namespace: str
) -> None:
    cluster = {
        "apiVersion": CNPG_API,
        "kind": "Cluster",
        "metadata": {"name": "pg"},
        "spec": {"instances": 2, "storage": {"size": "1Gi"}},
    }
    await kube.create("Cluster", cluster, namespace, api_version=CNPG_API)
    # What CloudNativePG would report for a healthy two-instance cluster (no operator runs here).
    await kube.patch(
        "Cluster", "pg", {"status": {"currentPrimary": "pg-1", "targetPrimary": "pg-1", "instances": 2}},
        namespace, api_version=CNPG_API, subresource="status",
    )  # fmt: skip
    for name in ("pg-1", "pg-2"):
        body = deployment(name, 1)["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"cnpg.io/cluster": "pg"}},
               "spec": body["spec"]}  # fmt: skip
        await kube.create("Pod", pod, namespace)

    async def both_ready() -> bool:
        return len(ready_pods(await kube.list("Pod", namespace, label_selector="cnpg.io/cluster=pg"))) == 2

    await wait_for(both_ready, what="two ready instance pods")
    params = {"namespace": namespace, "name": "pg"}
    dry = await registry.invoke("failover_database", params, ActionContext(kube=kube, dry_run=True))
    assert "would request a switchover of Cluster" in dry.message
    assert (await kube.get("Cluster", "pg", namespace, api_version=CNPG_API))["status"]["targetPrimary"] == "pg-1"

    result = await registry.invoke("failover_database", params, ActionContext(kube=kube))
    assert result.changed
    status = (await kube.get("Cluster", "pg", namespace, api_version=CNPG_API))["status"]
    assert (status["currentPrimary"], status["targetPrimary"]) == ("pg-1", "pg-2")
    assert status["phase"] == "Switchover in progress"
    assert status["targetPrimaryTimestamp"]

    await kube.patch("Cluster", "pg", {"status": {"currentPrimary": "pg-2", "phase": "Cluster in healthy state"}},
                     namespace, api_version=CNPG_API, subresource="status")  # fmt: skip
    assert result.undo is not None
    undone = await registry.undo("failover_database", result.undo, ActionContext(kube=kube))
    assert undone.changed
    status = (await kube.get("Cluster", "pg", namespace, api_version=CNPG_API))["status"]
    assert (status["currentPrimary"], status["targetPrimary"]) == ("pg-2", "pg-1")
