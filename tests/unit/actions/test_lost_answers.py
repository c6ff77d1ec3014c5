"""Exactly once by the engine's token: a write whose answer is lost is not repeated by the retry of the same call.

Each test makes the API server persist a write and then lose its answer (the
moment between a write and its acknowledgement), so the action fails with a
transient error; the engine then calls it again with the same idempotency key
and memory, which these tests do with the same context.
"""

from __future__ import annotations

import pytest

from suture.actions import ActionError, ErrorCategory, load_registry
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import owned_by, pod
from tests.unit.actions.helpers import CNPG_CLUSTER, VOLUME_SNAPSHOT, claim, run_ctx, workload

registry = load_registry()


async def _lost_then_retried(api: FakeKubeApi, method: str, action: str, params: dict[str, object]) -> None:
    ctx = run_ctx(api)
    api.fail(method=method, status=503, after=True)
    with pytest.raises(ActionError) as caught:
        await registry.invoke(action, params, ctx)
    assert caught.value.category is ErrorCategory.TRANSIENT
    result = await registry.invoke(action, params, ctx)
    assert result.changed
    assert len([w for w in api.writes(persisted=True) if w.method == method]) == 1


async def test_backup_data_creates_one_snapshot_when_the_create_answer_is_lost() -> None:
    api = FakeKubeApi()
    api.serve(VOLUME_SNAPSHOT)
    api.add(claim())
    await _lost_then_retried(api, "POST", "backup_data", {"namespace": "shop", "name": "data"})
    assert len(api.objects("VolumeSnapshot")) == 1


async def test_restart_network_deletes_once_when_the_delete_answer_is_lost() -> None:
    api = FakeKubeApi()
    (ds,) = api.add(workload("kube-proxy", "kube-system", kind="DaemonSet"))
    api.add(owned_by(pod("kube-proxy-a", "kube-system", node="n1"), ds))
    await _lost_then_retried(api, "DELETE", "restart_network", {"node": "n1"})


async def test_failover_database_asks_once_when_the_status_answer_is_lost() -> None:
    api = FakeKubeApi()
    api.serve(CNPG_CLUSTER)
    api.add({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "shop"},
             "spec": {"instances": 2}, "status": {"currentPrimary": "pg-1", "targetPrimary": "pg-1"}})  # fmt: skip
    for name in ("pg-1", "pg-2"):
        p = pod(name)
        p["metadata"]["labels"] = {"cnpg.io/cluster": "pg"}
        p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        api.add(p)
    await _lost_then_retried(api, "PATCH", "failover_database", {"namespace": "shop", "name": "pg"})
    assert api.get("Cluster", "pg", "shop")["status"]["targetPrimary"] == "pg-2"


async def test_reset_service_mesh_rolls_once_when_a_patch_answer_is_lost() -> None:
    api = FakeKubeApi()
    (dep,) = api.add(workload("web"))
    meshed = owned_by(pod("web-1"), dep)  # a pod straight under a Deployment has no workload: use a ReplicaSet
    meshed["metadata"]["ownerReferences"] = []
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-rs", "namespace": "shop"}}
    (rs,) = api.add(owned_by(rs, dep))
    meshed["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})
    api.add(owned_by(meshed, rs))
    await _lost_then_retried(api, "PATCH", "reset_service_mesh", {"namespace": "shop"})
