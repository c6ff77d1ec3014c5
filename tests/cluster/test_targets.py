"""Resolving targets from alert labels on a real cluster, owner traversal included."""

from __future__ import annotations

from typing import Any

import pytest

from suture.api import TargetSpec
from suture.kube import KubeClient
from suture.targets import TargetError, resolve_target
from tests.conftest import deployment, ready_pods, wait_for


async def _a_pod(kube: KubeClient, namespace: str) -> dict[str, Any]:
    await kube.create("Deployment", deployment("web", 1), namespace)

    async def one() -> dict[str, Any] | None:
        pods = ready_pods(await kube.list("Pod", namespace, label_selector="app=web"))
        return pods[0] if pods else None

    pod: dict[str, Any] = await wait_for(one, what="a ready pod")
    return pod


async def test_pod_alert_resolves_to_its_deployment(kube: KubeClient, namespace: str) -> None:
    pod = await _a_pod(kube, namespace)
    alert = {"labels": {"namespace": namespace, "pod": pod["metadata"]["name"]}}
    spec = TargetSpec(
        kind="Pod", namespace="${{ alert.labels.namespace }}", name="${{ alert.labels.pod }}", owner="Deployment"
    )
    resolved = await resolve_target(spec, alert=alert, kube=kube, confine_to=namespace)
    deploy = await kube.get("Deployment", "web", namespace)
    assert resolved.ref.kind == "Deployment"
    assert resolved.ref.name == "web"
    assert resolved.ref.uid == deploy["metadata"]["uid"]
    assert [c.split("/")[0] for c in resolved.chain] == ["Pod", "ReplicaSet", "Deployment"]
    assert resolved.object["spec"]["replicas"] == 1


async def test_pod_alert_resolves_to_its_node(kube: KubeClient, namespace: str) -> None:
    pod = await _a_pod(kube, namespace)
    spec = TargetSpec(kind="Pod", namespace=namespace, name=pod["metadata"]["name"], owner="Node")
    resolved = await resolve_target(spec, alert={"labels": {}}, kube=kube)
    assert resolved.ref.kind == "Node"
    assert resolved.ref.name == pod["spec"]["nodeName"]
    assert resolved.ref.namespace is None


async def test_missing_object_is_a_clear_error(kube: KubeClient, namespace: str) -> None:
    spec = TargetSpec(kind="Deployment", namespace=namespace, name="${{ alert.labels.deployment }}")
    with pytest.raises(TargetError, match=f"Deployment 'ghost' in namespace '{namespace}' not found"):
        await resolve_target(spec, alert={"labels": {"deployment": "ghost"}}, kube=kube)


async def test_missing_label_is_a_clear_error(kube: KubeClient, namespace: str) -> None:
    spec = TargetSpec(kind="Deployment", namespace=namespace, name="${{ alert.labels.deployment }}")
    with pytest.raises(TargetError, match=r"target\.name: no such key 'deployment'"):
        await resolve_target(spec, alert={"labels": {}}, kube=kube)


async def test_no_such_owner(kube: KubeClient, namespace: str) -> None:
    pod = await _a_pod(kube, namespace)
    spec = TargetSpec(kind="Pod", namespace=namespace, name=pod["metadata"]["name"], owner="StatefulSet")
    with pytest.raises(TargetError, match="no StatefulSet owns Pod/"):
        await resolve_target(spec, alert={"labels": {}}, kube=kube)


async def test_namespaced_template_cannot_leave_its_namespace(kube: KubeClient, namespace: str) -> None:
    spec = TargetSpec(kind="Deployment", namespace="${{ alert.labels.namespace }}", name="web")
    with pytest.raises(TargetError, match="outside the template's namespace"):
        await resolve_target(spec, alert={"labels": {"namespace": "kube-system"}}, kube=kube, confine_to=namespace)
    with pytest.raises(TargetError, match="cannot act on Node objects"):
        await resolve_target(TargetSpec(kind="Node", name="node-000000"), alert={}, kube=kube, confine_to=namespace)


async def test_label_text_is_not_evaluated(kube: KubeClient, namespace: str) -> None:
    # An alert label holding an expression is a (bad) name, never code.
    spec = TargetSpec(kind="Deployment", namespace=namespace, name="${{ alert.labels.deployment }}")
    with pytest.raises(TargetError, match=r"Deployment '\$\{\{ 1 \+ 1 \}\}'"):
        await resolve_target(spec, alert={"labels": {"deployment": "${{ 1 + 1 }}"}}, kube=kube)
