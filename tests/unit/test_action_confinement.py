"""The built-in actions obey the one namespace rule and never read Secrets (through the in-memory API)."""

from __future__ import annotations

from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment, node

registry = load_registry()


def _secret() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {}}


@pytest.mark.parametrize("action", ["get_resource", "collect_diagnostics"])
async def test_secrets_are_refused_before_anything_is_read(action: str) -> None:
    api = FakeKubeApi()
    api.add(_secret())
    params = {"kind": "Secret", "apiVersion": "v1", "namespace": "shop", "name": "db"}
    with pytest.raises(ActionError) as caught:
        await registry.invoke(action, params, ActionContext(kube=api.client()))
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert "never reads Secrets" in str(caught.value)
    assert [r.path for r in api.requests if "/secrets" in r.path] == []


async def test_a_namespaced_template_cannot_read_a_node_through_diagnostics() -> None:
    api = FakeKubeApi()
    api.add(node("n1"))
    ctx = ActionContext(kube=api.client(), allowed_namespace="shop")
    with pytest.raises(ActionError) as caught:
        await registry.invoke("collect_diagnostics", {"kind": "Node", "namespace": "shop", "name": "n1"}, ctx)
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert "cluster-scoped object is outside this template's namespace 'shop'" in str(caught.value)


async def test_the_templates_denied_namespaces_hold_for_every_action_call() -> None:
    api = FakeKubeApi()
    api.add(deployment("web", namespace="payments"))
    ctx = ActionContext(kube=api.client(), denied_namespaces=frozenset({"payments"}))
    with pytest.raises(ActionError) as caught:
        await registry.invoke("scale_deployment", {"namespace": "payments", "name": "web", "replicas": 5}, ctx)
    assert caught.value.category is ErrorCategory.FORBIDDEN
    assert "deny namespace 'payments'" in str(caught.value)
    assert api.writes() == []
    allowed_only = ActionContext(kube=api.client(), permitted_namespaces=frozenset({"shop"}))
    with pytest.raises(ActionError, match="not among the template's allowed namespaces"):
        await registry.invoke("scale_deployment", {"namespace": "payments", "name": "web", "replicas": 5}, allowed_only)
    assert api.writes() == []
