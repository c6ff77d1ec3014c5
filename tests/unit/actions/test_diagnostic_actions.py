"""create_heap_dump, audit_logs and failover_database on the in-memory API server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import owned_by, pod, replicaset
from tests.unit.actions.helpers import CNPG_CLUSTER, run_ctx, workload

registry = load_registry()


# -- create_heap_dump ------------------------------------------------------------------


async def test_heap_dump_adds_one_ephemeral_container_and_reports_that_no_kubelet_ran_it() -> None:
    api = FakeKubeApi()
    api.add(pod("app-1"))
    params = {"namespace": "shop", "name": "app-1", "command": ["jcmd", "1", "GC.heap_dump", "/tmp/h"], "wait": "0s"}
    dry = await registry.invoke("create_heap_dump", params, ActionContext(kube=api.client(), dry_run=True))
    assert "would add debug container" in dry.message
    assert "ephemeralContainers" not in api.get("Pod", "app-1", "shop")["spec"]

    ctx = run_ctx(api)
    result = await registry.invoke("create_heap_dump", params, ctx)
    (container,) = api.get("Pod", "app-1", "shop")["spec"]["ephemeralContainers"]
    assert container["command"] == ["jcmd", "1", "GC.heap_dump", "/tmp/h"]
    assert container["targetContainerName"] == "app"
    assert result.output["state"] == "no status reported: no kubelet has started it"
    (write,) = api.writes(persisted=True)
    assert write.subresource == "ephemeralcontainers"
    await registry.invoke("create_heap_dump", params, ctx)
    assert len(api.get("Pod", "app-1", "shop")["spec"]["ephemeralContainers"]) == 1
    with pytest.raises(ActionError, match="did not finish within 1s") as caught:
        await registry.invoke("create_heap_dump", {**params, "wait": "1s"}, ctx)
    assert caught.value.category is ErrorCategory.TIMEOUT


async def test_heap_dump_output_is_stored_in_a_configmap_once_the_container_terminates() -> None:
    api = FakeKubeApi()
    api.add(pod("app-1"))
    ctx = run_ctx(api, remediation="shop/oom")
    params = {"namespace": "shop", "name": "app-1", "command": ["jcmd", "1", "GC.heap_info"], "wait": "0s"}
    first = await registry.invoke("create_heap_dump", params, ctx)
    name = first.output["container"]
    stored = api.get("Pod", "app-1", "shop")
    terminated = {"name": name, "state": {"terminated": {"exitCode": 0}}}
    api.add({**stored, "status": {**stored["status"], "ephemeralContainerStatuses": [terminated]}})
    api.logs[("shop", f"app-1/{name}")] = "garbage-first heap total 1024K\n"
    done = await registry.invoke("create_heap_dump", {**params, "wait": "5s"}, ctx)
    cm = api.get("ConfigMap", done.output["configMap"], "shop")
    assert cm["data"]["output.txt"] == "garbage-first heap total 1024K\n"
    assert cm["metadata"]["annotations"]["suture.dev/remediation"] == "shop/oom"
    with pytest.raises(ActionError, match="has no container 'sidecar'"):
        await registry.invoke("create_heap_dump", {**params, "container": "sidecar"}, run_ctx(api, "other"))


# -- audit_logs ------------------------------------------------------------------------


async def test_audit_logs_gathers_managers_revisions_events_and_past_remediations() -> None:
    api = FakeKubeApi()
    dep = workload("web")
    dep["metadata"]["managedFields"] = [
        {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z",
         "fieldsV1": {"f:spec": {}, "f:metadata": {}}},
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-01-02T00:00:00Z",
         "fieldsV1": {"f:spec": {}}},
    ]  # fmt: skip
    (dep,) = api.add(dep)
    for revision, image in ((1, "web:1"), (2, "web:2")):
        rs = replicaset(f"web-{revision}")
        rs["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": str(revision)}
        rs["spec"] = {"replicas": revision - 1, "template": {"spec": {"containers": [{"name": "a", "image": image}]}}}
        api.add(owned_by(rs, dep))
    api.add(
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "shop"},
         "reason": "ScalingReplicaSet", "message": "Scaled up",
         "involvedObject": {"kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"], "namespace": "shop"}},
        {"apiVersion": "suture.dev/v1alpha1", "kind": "Remediation", "metadata": {"name": "r1", "namespace": "shop"},
         "spec": {"templateRef": {"name": "crashloop"}},
         "status": {"phase": "Succeeded", "target": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "verification": {"outcome": "Effective"}}},
    )  # fmt: skip
    ctx = ActionContext(kube=api.client(), remediation="shop/now")
    result = await registry.invoke("audit_logs", {"namespace": "shop", "name": "web"}, ctx)
    assert result.changed
    assert {k: result.output[k] for k in ("managedFields", "revisions", "events", "remediations")} == {
        "managedFields": 2, "revisions": 2, "events": 1, "remediations": 1
    }  # fmt: skip
    bundle = json.loads(api.get("ConfigMap", result.output["configMap"], "shop")["data"]["audit.json"])
    assert [m["manager"] for m in bundle["managedFields"]] == ["kubectl", "argocd-controller"]
    assert bundle["managedFields"][0]["fields"] == ["metadata", "spec"]
    assert [(r["revision"], r["images"]) for r in bundle["revisions"]] == [(1, ["web:1"]), (2, ["web:2"])]
    assert bundle["remediations"] == [
        {"name": "r1", "created": bundle["remediations"][0]["created"], "template": "crashloop",
         "phase": "Succeeded", "outcome": "Effective"}
    ]  # fmt: skip
    again = await registry.invoke("audit_logs", {"namespace": "shop", "name": "web"}, ctx)
    assert not again.changed
    assert "unchanged" in again.message


async def test_audit_logs_refuses_secrets_before_reading_them() -> None:
    api = FakeKubeApi()
    with pytest.raises(ActionError, match="never reads Secrets"):
        await registry.invoke("audit_logs", {"namespace": "shop", "name": "db", "kind": "Secret"}, run_ctx(api))
    assert not [r for r in api.requests if "/secrets" in r.path]


# -- failover_database -----------------------------------------------------------------


def _cnpg(api: FakeKubeApi, *, ready: tuple[str, ...] = ("pg-2", "pg-3")) -> None:
    api.serve(CNPG_CLUSTER)
    api.add({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "shop"},
             "spec": {"instances": 3}, "status": {"currentPrimary": "pg-1", "targetPrimary": "pg-1",
                                                  "phase": "Cluster in healthy state"}})  # fmt: skip
    for name in ("pg-1", "pg-2", "pg-3", "other-1"):
        p: dict[str, Any] = pod(name)
        p["metadata"]["labels"] = {"cnpg.io/cluster": "other" if name.startswith("other") else "pg"}
        ok = "True" if name in ready or name == "pg-1" else "False"
        p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": ok}]}
        api.add(p)


async def test_failover_requests_a_switchover_to_the_first_ready_replica_once_and_undo_switches_back() -> None:
    api = FakeKubeApi()
    _cnpg(api, ready=("pg-3",))
    params = {"namespace": "shop", "name": "pg"}
    dry = await registry.invoke("failover_database", params, ActionContext(kube=api.client(), dry_run=True))
    assert "would request a switchover of Cluster shop/pg from pg-1 to pg-3" in dry.message
    assert api.writes(persisted=True) == []

    ctx = run_ctx(api)
    result = await registry.invoke("failover_database", params, ctx)
    assert result.changed
    status = api.get("Cluster", "pg", "shop")["status"]
    assert status["targetPrimary"] == "pg-3"
    assert status["currentPrimary"] == "pg-1"
    assert status["phase"] == "Switchover in progress"
    (write,) = api.writes(persisted=True)
    assert write.subresource == "status"
    replay = await registry.invoke("failover_database", params, ctx)
    assert replay.changed
    assert len(api.writes(persisted=True)) == 1

    # CloudNativePG completes it; the undo then asks for the old primary back.
    cluster = api.get("Cluster", "pg", "shop")
    api.add({**cluster, "status": {**cluster["status"], "currentPrimary": "pg-3", "phase": "Cluster in healthy state"}})
    assert result.undo == {"namespace": "shop", "name": "pg", "previousPrimary": "pg-1"}
    undone = await registry.undo("failover_database", result.undo, ActionContext(kube=api.client()))
    assert undone.changed
    assert api.get("Cluster", "pg", "shop")["status"]["targetPrimary"] == "pg-1"


async def test_failover_refuses_a_foreign_instance_and_a_switchover_already_under_way() -> None:
    api = FakeKubeApi()
    _cnpg(api)
    with pytest.raises(ActionError, match="other-1 is not an instance of Cluster shop/pg"):
        await registry.invoke("failover_database", {"namespace": "shop", "name": "pg", "targetInstance": "other-1"},
                              run_ctx(api))  # fmt: skip
    cluster = api.get("Cluster", "pg", "shop")
    api.add({**cluster, "status": {**cluster["status"], "targetPrimary": "pg-2"}})
    with pytest.raises(ActionError, match="already switching over to pg-2") as caught:
        await registry.invoke("failover_database", {"namespace": "shop", "name": "pg", "targetInstance": "pg-3"},
                              run_ctx(api, "k2"))  # fmt: skip
    assert caught.value.category is ErrorCategory.CONFLICT
    assert api.writes(persisted=True) == []
