"""Every action test runs its actions as the operator would: with the generated RBAC and nothing more.

Test set-up (creating Deployments, nodes, PodDisruptionBudgets...) uses the
admin client; every call through ``Registry.invoke`` and ``Registry.undo`` is
switched to a client authenticated as a ServiceAccount bound only to the
ClusterRole ``suture rbac`` generates. An action whose declared RBAC misses
something it uses fails its test with a 403.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from suture.actions import ActionContext, ActionResult, Registry, load_registry
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


@pytest.fixture(autouse=True)
def act_as_operator(monkeypatch: pytest.MonkeyPatch, operator_kube: KubeClient) -> None:
    """Route every action call through the operator's identity."""
    invoke, undo = Registry.invoke, Registry.undo

    def as_operator(ctx: ActionContext) -> ActionContext:
        return dataclasses.replace(ctx, kube=operator_kube) if ctx.kube is not None else ctx

    async def invoke_as_operator(
        self: Registry, name: str, raw_params: Mapping[str, Any], ctx: ActionContext
    ) -> ActionResult:
        return await invoke(self, name, raw_params, as_operator(ctx))

    async def undo_as_operator(self: Registry, name: str, data: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        return await undo(self, name, data, as_operator(ctx))

    monkeypatch.setattr(Registry, "invoke", invoke_as_operator)
    monkeypatch.setattr(Registry, "undo", undo_as_operator)
