"""annotate and label against the real API server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient

registry = load_registry()


async def test_annotate_sets_removes_and_undo_restores_exactly(kube: KubeClient, namespace: str) -> None:
    # A Service: no controller writes to it behind the test's back (a Deployment's does).
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "annotations": {"keep": "1", "change": "old", "drop": "x"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    created = await kube.create("Service", manifest, namespace)
    original = created["metadata"]["annotations"]
    params: dict[str, Any] = {
        "kind": "Service",
        "namespace": namespace,
        "name": "web",
        "annotations": {"new": "yes", "change": "new", "drop": None, "absent": None},
    }

    dry = await registry.invoke("annotate", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.message.startswith("dry-run: would")
    same = await kube.get("Service", "web", namespace)
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("annotate", params, ctx)
    assert result.changed
    after = await kube.get("Service", "web", namespace)
    assert after["metadata"]["annotations"] == {"keep": "1", "change": "new", "new": "yes"}
    assert result.output["previous"] == {"new": None, "change": "old", "drop": "x"}

    again = await registry.invoke("annotate", params, ctx)
    assert not again.changed
    assert (await kube.get("Service", "web", namespace))["metadata"]["resourceVersion"] == after["metadata"][
        "resourceVersion"
    ]

    assert result.undo is not None
    undone = await registry.undo("annotate", result.undo, ctx)
    assert undone.changed
    restored = await kube.get("Service", "web", namespace)
    assert restored["metadata"]["annotations"] == original
    assert not (await registry.undo("annotate", result.undo, ctx)).changed


@pytest.fixture
async def own_node(kube: KubeClient) -> AsyncIterator[str]:
    """A kwok Node of this test's own: the shared nodes are not ours to label."""
    name = f"meta-{uuid.uuid4().hex[:8]}"
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"suture.dev/test": name}, "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "spec": {"unschedulable": True},
    }
    await kube.create("Node", node)
    try:
        yield name
    finally:
        await kube.delete("Node", name)


async def test_label_on_a_cluster_scoped_object_and_undo(kube: KubeClient, namespace: str, own_node: str) -> None:
    before = await kube.get("Node", own_node)
    ctx = ActionContext(kube=kube)
    params = {"kind": "Node", "name": own_node, "labels": {"suture.dev/quarantine": "true"}}

    dry = await registry.invoke("label", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    # Labels are what a label write would change; the node controller adds its own annotations meanwhile.
    assert (await kube.get("Node", own_node))["metadata"]["labels"] == before["metadata"]["labels"]

    result = await registry.invoke("label", params, ctx)
    assert result.changed
    assert result.output["namespace"] is None
    labelled = await kube.get("Node", own_node)
    assert labelled["metadata"]["labels"] == {**before["metadata"]["labels"], "suture.dev/quarantine": "true"}
    assert not (await registry.invoke("label", params, ctx)).changed

    assert result.undo is not None
    await registry.undo("label", result.undo, ctx)
    assert (await kube.get("Node", own_node))["metadata"]["labels"] == before["metadata"]["labels"]

    # Namespaces are outside what the operator may label: refused before any request is sent.
    with pytest.raises(ActionError) as refused:
        await registry.invoke("label", {"kind": "Namespace", "name": namespace, "labels": {"a": "b"}}, ctx)
    assert refused.value.category is ErrorCategory.FORBIDDEN
    assert "not Namespace" in str(refused.value)

    # A namespaced template may not touch a cluster-scoped object.
    with pytest.raises(ActionError) as info:
        await registry.invoke("label", params, ActionContext(kube=kube, allowed_namespace=namespace))
    assert info.value.category is ErrorCategory.FORBIDDEN


async def test_label_a_pod_and_refusals(kube: KubeClient, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
    }
    await kube.create("Pod", pod, namespace)
    ctx = ActionContext(kube=kube)
    result = await registry.invoke(
        "label", {"kind": "Pod", "namespace": namespace, "name": "p", "labels": {"app": None, "quarantined": "1"}}, ctx
    )
    assert result.changed
    assert (await kube.get("Pod", "p", namespace))["metadata"]["labels"] == {"quarantined": "1"}
    assert result.undo is not None
    await registry.undo("label", result.undo, ctx)
    assert (await kube.get("Pod", "p", namespace))["metadata"]["labels"] == {"app": "web"}

    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "label", {"kind": "Pod", "namespace": namespace, "name": "nope", "labels": {"a": "b"}}, ctx
        )
    assert info.value.category is ErrorCategory.NOT_FOUND
    assert "nope" in str(info.value)

    with pytest.raises(ActionError) as info:
        await registry.invoke("annotate", {"kind": "Pod", "name": "p", "annotations": {"a": "b"}}, ctx)
    assert info.value.category is ErrorCategory.INVALID

    with pytest.raises(ActionError) as info:
        await registry.invoke("annotate", {"kind": "Gizmo", "name": "p", "annotations": {"a": "b"}}, ctx)
    assert info.value.category is ErrorCategory.INVALID

    with pytest.raises(ActionError) as info:  # the API server validates label values
        await registry.invoke(
            "label", {"kind": "Pod", "namespace": namespace, "name": "p", "labels": {"a": "b c"}}, ctx
        )
    assert info.value.category is ErrorCategory.INVALID
