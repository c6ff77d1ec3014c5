"""wait_for_rollout and get_resource against the real API server (kwok makes pods Ready at once)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient
from tests.conftest import deployment, persisted, wait_for

registry = load_registry()
NOWHERE = {"nodeSelector": {"suture.dev/test": "no-such-node"}}  # pods stay Pending


def _ctx(kube: KubeClient, **kw: Any) -> ActionContext:
    return ActionContext(kube=kube, poll_interval=0.1, **kw)


async def test_deployment_rollout_completes(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    params = {"namespace": namespace, "name": "web", "timeout": "60s"}
    result = await registry.invoke("wait_for_rollout", params, _ctx(kube))
    assert not result.changed
    assert result.output["desired"] == 2
    assert result.output["updated"] == result.output["ready"] == result.output["available"] == 2
    assert result.output["observedGeneration"] >= result.output["generation"]

    # A new rollout: the action must wait for the new generation, not report the old one.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}
    patched = await kube.patch("Deployment", "web", patch, namespace, patch_type="strategic")
    result = await registry.invoke("wait_for_rollout", params, _ctx(kube))
    assert result.output["generation"] == patched["metadata"]["generation"]
    assert result.output["updated"] == result.output["available"] == 2
    assert result.output["current"] == 2  # old replicas are gone
    dep = await kube.get("Deployment", "web", namespace)
    assert dep["status"]["updatedReplicas"] == 2

    dry = await registry.invoke("wait_for_rollout", params, _ctx(kube, dry_run=True))
    assert dry.dry_run
    assert not dry.changed
    assert persisted(await kube.get("Deployment", "web", namespace)) == persisted(dep)


async def test_stalled_rollout_times_out_with_counts(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("stuck", 2, **NOWHERE), namespace)
    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "wait_for_rollout", {"namespace": namespace, "name": "stuck", "timeout": "1s"}, _ctx(kube)
        )
    assert info.value.category is ErrorCategory.TIMEOUT
    assert "desired 2" in str(info.value)
    assert "available 0" in str(info.value)


async def test_dry_run_reports_a_stalled_rollout_without_waiting(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("stuck", 2, **NOWHERE), namespace)
    params = {"namespace": namespace, "name": "stuck", "timeout": "10m"}
    # The 10-minute timeout would hang the test if a dry run waited; asyncio.timeout makes that a failure.
    async with asyncio.timeout(30):
        result = await registry.invoke("wait_for_rollout", params, _ctx(kube, dry_run=True))
    assert not result.changed
    assert result.output["done"] is False
    assert result.message.startswith(f"dry-run: Deployment {namespace}/stuck has not finished rolling out")
    assert "a real run would wait up to 10m" in result.message


async def test_progress_deadline_exceeded_fails_fast(kube: KubeClient, namespace: str) -> None:
    manifest = deployment("doomed", 1, **NOWHERE)
    manifest["spec"]["progressDeadlineSeconds"] = 1
    await kube.create("Deployment", manifest, namespace)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "wait_for_rollout", {"namespace": namespace, "name": "doomed", "timeout": "2m"}, _ctx(kube)
        )
    assert info.value.category is ErrorCategory.FAILED
    assert "progress deadline" in str(info.value)
    assert loop.time() - started < 60


async def test_statefulset_and_daemonset_rollouts(kube: KubeClient, namespace: str) -> None:
    labels = {"app": "db"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": "postgres:17"}]}}
    await kube.create(
        "StatefulSet",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": labels}, "template": template},
        },
        namespace,
    )
    result = await registry.invoke(
        "wait_for_rollout", {"namespace": namespace, "name": "db", "kind": "StatefulSet", "timeout": "60s"}, _ctx(kube)
    )
    assert result.output["ready"] == result.output["desired"] == 2

    agent = {"app": "agent"}
    await kube.create(
        "DaemonSet",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": agent},
                "template": {"metadata": {"labels": agent}, "spec": template["spec"]},
            },
        },
        namespace,
    )
    result = await registry.invoke(
        "wait_for_rollout",
        {"namespace": namespace, "name": "agent", "kind": "DaemonSet", "timeout": "60s"},
        _ctx(kube),
    )
    assert result.output["desired"] >= 1
    assert result.output["updated"] == result.output["available"] == result.output["desired"]
    pods = await kube.list("Pod", namespace, label_selector="app=agent")
    assert len(pods) == result.output["desired"]


async def test_rollout_refusals(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(ActionError) as info:
        await registry.invoke("wait_for_rollout", {"namespace": namespace, "name": "ghost"}, _ctx(kube))
    assert info.value.category is ErrorCategory.NOT_FOUND
    assert "ghost" in str(info.value)

    labels = {"app": "od"}
    await kube.create(
        "StatefulSet",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "od"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "updateStrategy": {"type": "OnDelete"},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "m", "image": "x"}]}},
            },
        },
        namespace,
    )
    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "wait_for_rollout", {"namespace": namespace, "name": "od", "kind": "StatefulSet"}, _ctx(kube)
        )
    assert info.value.category is ErrorCategory.INVALID
    assert "OnDelete" in str(info.value)

    with pytest.raises(ActionError) as info:
        await registry.invoke("wait_for_rollout", {"namespace": namespace, "name": "od", "timeout": "soon"}, _ctx(kube))
    assert info.value.category is ErrorCategory.INVALID


async def test_get_resource_default_and_selected_fields(kube: KubeClient, namespace: str) -> None:
    manifest = deployment("web", 1)
    manifest["metadata"]["annotations"] = {"app.kubernetes.io/part-of": "shop"}
    await kube.create("Deployment", manifest, namespace)

    async def available() -> dict[str, Any] | None:
        dep = await kube.get("Deployment", "web", namespace)
        return dep if dep.get("status", {}).get("availableReplicas") == 1 else None

    dep = await wait_for(available, what="the deployment to be available")
    ctx = _ctx(kube)
    result = await registry.invoke("get_resource", {"kind": "Deployment", "namespace": namespace, "name": "web"}, ctx)
    assert not result.changed
    fields = result.output["fields"]
    assert set(fields) == {"metadata.name", "metadata.uid", "metadata.resourceVersion", "spec", "status"}
    assert fields["metadata.uid"] == dep["metadata"]["uid"]
    assert fields["spec"]["replicas"] == 1
    assert fields["status"]["availableReplicas"] == 1
    assert result.output["missing"] == []

    paths = [
        "status.availableReplicas",
        "spec.template.spec.containers[0].image",
        'metadata.annotations["app.kubernetes.io/part-of"]',
        "status.noSuchField",
    ]
    result = await registry.invoke(
        "get_resource", {"kind": "Deployment", "namespace": namespace, "name": "web", "fields": paths}, ctx
    )
    assert result.output["fields"] == {
        "status.availableReplicas": 1,
        "spec.template.spec.containers[0].image": "nginx:1.27",
        'metadata.annotations["app.kubernetes.io/part-of"]': "shop",
        "status.noSuchField": None,
    }
    assert result.output["missing"] == ["status.noSuchField"]

    # Cluster-scoped: no namespace.
    ns = await registry.invoke(
        "get_resource", {"kind": "Namespace", "name": namespace, "fields": ["status.phase"]}, ctx
    )
    assert ns.output["fields"] == {"status.phase": "Active"}

    dry = await registry.invoke(
        "get_resource",
        {"kind": "Deployment", "namespace": namespace, "name": "web", "fields": paths[:1]},
        _ctx(kube, dry_run=True),
    )
    assert dry.output["fields"] == {"status.availableReplicas": 1}


async def test_get_resource_refusals(kube: KubeClient, namespace: str) -> None:
    await kube.create(
        "Secret",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}},
        namespace,
    )
    ctx = _ctx(kube)
    with pytest.raises(ActionError) as info:
        await registry.invoke("get_resource", {"kind": "Secret", "namespace": namespace, "name": "s"}, ctx)
    assert info.value.category is ErrorCategory.FORBIDDEN
    assert "hunter2" not in str(info.value)

    with pytest.raises(ActionError) as info:
        await registry.invoke("get_resource", {"kind": "Pod", "namespace": namespace, "name": "ghost"}, ctx)
    assert info.value.category is ErrorCategory.NOT_FOUND

    with pytest.raises(ActionError) as info:
        await registry.invoke("get_resource", {"kind": "Pod", "name": "ghost"}, ctx)
    assert info.value.category is ErrorCategory.INVALID

    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "get_resource", {"kind": "Pod", "namespace": namespace, "name": "p", "fields": ["a..b"]}, ctx
        )
    assert info.value.category is ErrorCategory.INVALID

    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "get_resource", {"kind": "Pod", "namespace": namespace, "name": "p"}, _ctx(kube, allowed_namespace="other")
        )
    assert info.value.category is ErrorCategory.FORBIDDEN
