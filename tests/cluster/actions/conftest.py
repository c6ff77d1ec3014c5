"""Every action test runs its actions as the operator would: with the generated RBAC and nothing more.

Test set-up (creating Deployments, nodes, PodDisruptionBudgets...) uses the
admin client; every call through ``Registry.invoke`` and ``Registry.undo`` is
switched to a client authenticated as a ServiceAccount bound only to the
ClusterRole ``suture rbac`` generates. An action whose declared RBAC misses
something it uses fails its test with a 403.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from suture.actions import ActionContext, ActionResult, Registry, load_registry
from suture.actions.spec import LocalMemory
from suture.kube import KubeClient, connect
from suture.rbac import cluster_role, cluster_role_binding
from tests.cluster.identity import service_account_kubeconfig


@pytest.fixture(scope="session")
async def operator_kube(
    kube: KubeClient, kubeconfig: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[KubeClient]:
    """A client holding exactly the operator's generated ClusterRole (every registered action)."""
    name = f"suture-actions-{uuid.uuid4().hex[:6]}"
    await kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    role = cluster_role(load_registry())
    binding = cluster_role_binding(namespace=name, service_account="suture")
    role["metadata"]["name"] = binding["metadata"]["name"] = binding["roleRef"]["name"] = name
    await kube.create("ClusterRole", role)
    await kube.create("ClusterRoleBinding", binding)
    path = tmp_path_factory.mktemp("identity") / "operator.kubeconfig"
    client = await connect(await service_account_kubeconfig(kube, kubeconfig, name, "suture", path))
    try:
        yield client
    finally:
        await client.close()
        await kube.delete("ClusterRoleBinding", name)
        await kube.delete("ClusterRole", name)
        await kube.delete("Namespace", name)


WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _intent_first(kube: KubeClient, memory: LocalMemory, action: str) -> KubeClient:
    """``kube`` that fails the test when a reversible action writes before recording its undo (``ctx.intend``)."""
    guarded = copy.copy(kube)
    send = kube.request

    async def request(method: str, path: str, **kwargs: Any) -> Any:
        query = kwargs.get("query") or {}
        body = kwargs.get("body")
        dry = query.get("dryRun") or (isinstance(body, dict) and body.get("dryRun"))
        if method in WRITES and not dry:
            assert await memory.get("intent") is not None, f"{action} wrote {method} {path} before recording its undo"
        return await send(method, path, **kwargs)

    setattr(guarded, "request", request)  # noqa: B010 - the test seam's hook on one client copy
    return guarded


@pytest.fixture(autouse=True)
def act_as_operator(monkeypatch: pytest.MonkeyPatch, operator_kube: KubeClient) -> None:
    """Route every action call through the operator's identity."""
    invoke, undo = Registry.invoke, Registry.undo

    def as_operator(ctx: ActionContext) -> ActionContext:
        return dataclasses.replace(ctx, kube=operator_kube) if ctx.kube is not None else ctx

    async def invoke_as_operator(
        self: Registry, name: str, raw_params: Mapping[str, Any], ctx: ActionContext
    ) -> ActionResult:
        ctx = as_operator(ctx)
        if ctx.kube is not None and not ctx.idempotency_key and self.get(name).reversible:
            # Every call is a call of a run here (its own key and memory), and the
            # exactly-once contract is checked at the wire: no real write before the undo is recorded.
            memory = LocalMemory()
            ctx = dataclasses.replace(
                ctx,
                idempotency_key=f"test-{uuid.uuid4().hex}",
                memory=memory,
                kube=_intent_first(ctx.kube, memory, name),
            )
        return await invoke(self, name, raw_params, ctx)

    async def undo_as_operator(self: Registry, name: str, data: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        return await undo(self, name, data, as_operator(ctx))

    monkeypatch.setattr(Registry, "invoke", invoke_as_operator)
    monkeypatch.setattr(Registry, "undo", undo_as_operator)
