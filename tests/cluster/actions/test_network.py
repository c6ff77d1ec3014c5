"""apply_network_policy against the real API server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient

registry = load_registry()

# Ports without a protocol: the server defaults it to TCP, which the action must
# not mistake for a difference on the second call.
ISOLATE = {
    "podSelector": {"matchLabels": {"app": "web"}},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "probe"}}}], "ports": [{"port": 8080}]}],
}


async def test_creates_is_idempotent_and_undo_deletes(kube: KubeClient, namespace: str) -> None:
    params = {"namespace": namespace, "name": "isolate-web", **ISOLATE}

    dry = await registry.invoke("apply_network_policy", params, ActionContext(kube=kube, dry_run=True))
    assert dry.dry_run
    assert not dry.changed
    assert "would create" in dry.message
    assert await kube.get_or_none("NetworkPolicy", "isolate-web", namespace) is None

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("apply_network_policy", params, ctx)
    assert result.changed
    assert result.output == {"namespace": namespace, "name": "isolate-web", "operation": "created"}
    policy = await kube.get("NetworkPolicy", "isolate-web", namespace)
    assert policy["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "suture"}
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert not policy["spec"].get("egress")  # Egress listed with no rules: deny all egress

    again = await registry.invoke("apply_network_policy", params, ctx)
    assert not again.changed
    assert again.undo is None
    after = await kube.get("NetworkPolicy", "isolate-web", namespace)
    assert after["metadata"]["resourceVersion"] == policy["metadata"]["resourceVersion"]

    assert result.undo is not None
    undone = await registry.undo("apply_network_policy", result.undo, ctx)
    assert undone.changed
    assert await kube.get_or_none("NetworkPolicy", "isolate-web", namespace) is None
    assert not (await registry.undo("apply_network_policy", result.undo, ctx)).changed


async def test_replaces_an_existing_policy_and_undo_restores_it_exactly(kube: KubeClient, namespace: str) -> None:
    original: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "labels": {"team": "a"}, "annotations": {"note": "kept"}},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}],
        },
    }
    before = await kube.create("NetworkPolicy", original, namespace)
    params = {"namespace": namespace, "name": "web", **ISOLATE}

    dry = await registry.invoke("apply_network_policy", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert "would replace" in dry.message
    unchanged = await kube.get("NetworkPolicy", "web", namespace)
    assert unchanged["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("apply_network_policy", params, ctx)
    assert result.changed
    assert result.output["operation"] == "replaced"
    replaced = await kube.get("NetworkPolicy", "web", namespace)
    assert replaced["metadata"]["uid"] == before["metadata"]["uid"]
    assert replaced["metadata"]["labels"] == {"team": "a", "app.kubernetes.io/managed-by": "suture"}
    assert replaced["metadata"]["annotations"] == {"note": "kept"}
    assert replaced["spec"]["policyTypes"] == ["Ingress", "Egress"]

    assert not (await registry.invoke("apply_network_policy", params, ctx)).changed

    assert result.undo is not None
    undone = await registry.undo("apply_network_policy", result.undo, ctx)
    assert undone.changed
    restored = await kube.get("NetworkPolicy", "web", namespace)
    assert restored["spec"] == before["spec"]
    assert restored["metadata"]["labels"] == before["metadata"]["labels"]
    assert restored["metadata"]["annotations"] == before["metadata"]["annotations"]
    assert restored["metadata"]["uid"] == before["metadata"]["uid"]
    assert not (await registry.undo("apply_network_policy", result.undo, ctx)).changed


async def test_undo_does_not_delete_a_policy_recreated_since(kube: KubeClient, namespace: str) -> None:
    ctx = ActionContext(kube=kube)
    result = await registry.invoke("apply_network_policy", {"namespace": namespace, "name": "p", **ISOLATE}, ctx)
    assert result.undo is not None
    await kube.delete("NetworkPolicy", "p", namespace)
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    await kube.create("NetworkPolicy", body, namespace)
    with pytest.raises(ActionError) as info:
        await registry.undo("apply_network_policy", result.undo, ctx)
    assert info.value.category is ErrorCategory.CONFLICT
    assert await kube.get_or_none("NetworkPolicy", "p", namespace) is not None


async def test_missing_namespace_is_not_found(kube: KubeClient) -> None:
    missing = f"t-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "apply_network_policy", {"namespace": missing, "name": "p", **ISOLATE}, ActionContext(kube=kube)
        )
    assert info.value.category is ErrorCategory.NOT_FOUND


async def test_refuses_a_namespace_outside_the_template(kube: KubeClient, namespace: str) -> None:
    ctx = ActionContext(kube=kube, allowed_namespace="elsewhere")
    with pytest.raises(ActionError) as info:
        await registry.invoke("apply_network_policy", {"namespace": namespace, "name": "p", **ISOLATE}, ctx)
    assert info.value.category is ErrorCategory.FORBIDDEN
    assert await kube.get_or_none("NetworkPolicy", "p", namespace) is None
