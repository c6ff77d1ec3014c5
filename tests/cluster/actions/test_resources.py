"""update_hpa and increase_resources against the real API server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient
from tests.conftest import deployment, persisted, ready_pods, rolled_out, wait_for

registry = load_registry()
HPA = "HorizontalPodAutoscaler"


def _hpa(name: str, min_replicas: int, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": HPA,
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
    }


async def _pod_resources(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    pods = ready_pods(await kube.list("Pod", namespace, label_selector=f"app={app}"))
    return [p["spec"]["containers"][0]["resources"] for p in pods]


async def test_update_hpa_sets_bounds_and_undo_restores_them(kube: KubeClient, namespace: str) -> None:
    created = await kube.create(HPA, _hpa("web", 1, 5), namespace)
    original = created["spec"]

    dry = await registry.invoke(
        "update_hpa", {"namespace": namespace, "name": "web", "maxReplicas": 9}, ActionContext(kube=kube, dry_run=True)
    )
    assert dry.dry_run
    assert not dry.changed
    assert dry.message.startswith("dry-run: would set")
    after_dry = await kube.get(HPA, "web", namespace)
    assert after_dry["spec"] == original
    assert persisted(after_dry) == persisted(created)

    ctx = ActionContext(kube=kube)
    result = await registry.invoke(
        "update_hpa", {"namespace": namespace, "name": "web", "minReplicas": 2, "maxReplicas": 9}, ctx
    )
    assert result.changed
    assert result.output == {
        "namespace": namespace,
        "name": "web",
        "previous": {"minReplicas": 1, "maxReplicas": 5},
        "minReplicas": 2,
        "maxReplicas": 9,
    }
    hpa = await kube.get(HPA, "web", namespace)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 9)
    assert hpa["spec"]["metrics"] == original["metrics"]

    # Only one bound given: the other is kept.
    again = await registry.invoke("update_hpa", {"namespace": namespace, "name": "web", "maxReplicas": 9}, ctx)
    assert not again.changed
    assert again.undo is None
    assert "already has minReplicas 2, maxReplicas 9" in again.message
    assert (await kube.get(HPA, "web", namespace))["spec"] == hpa["spec"]

    assert result.undo is not None
    undone = await registry.undo("update_hpa", result.undo, ctx)
    assert undone.changed
    assert (await kube.get(HPA, "web", namespace))["spec"] == original
    assert not (await registry.undo("update_hpa", result.undo, ctx)).changed


async def test_update_hpa_refuses_bad_bounds_and_missing_hpa(kube: KubeClient, namespace: str) -> None:
    await kube.create(HPA, _hpa("web", 2, 5), namespace)
    ctx = ActionContext(kube=kube)

    with pytest.raises(ActionError) as bad:
        await registry.invoke("update_hpa", {"namespace": namespace, "name": "web", "minReplicas": 6}, ctx)
    assert bad.value.category is ErrorCategory.INVALID
    assert "minReplicas 6 above maxReplicas 5" in str(bad.value)

    for params in ({}, {"minReplicas": 4, "maxReplicas": 3}):
        with pytest.raises(ActionError) as invalid:
            await registry.invoke("update_hpa", {"namespace": namespace, "name": "web", **params}, ctx)
        assert invalid.value.category is ErrorCategory.INVALID

    with pytest.raises(ActionError) as missing:
        await registry.invoke("update_hpa", {"namespace": namespace, "name": "nope", "maxReplicas": 3}, ctx)
    assert missing.value.category is ErrorCategory.NOT_FOUND
    assert "HorizontalPodAutoscaler 'nope'" in str(missing.value)
    assert (await kube.get(HPA, "web", namespace))["spec"]["minReplicas"] == 2


RESOURCES = {"limits": {"memory": "256Mi", "cpu": "500m"}, "requests": {"memory": "128Mi", "cpu": "250m"}}


def _with_resources(name: str, resources: dict[str, Any]) -> dict[str, Any]:
    manifest = deployment(name, 2)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = copy.deepcopy(resources)
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    return manifest


async def test_increase_memory_by_factor_rolls_pods_and_undo_restores(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", _with_resources("web", RESOURCES), namespace)
    before = await wait_for(lambda: rolled_out(kube, "Deployment", namespace, "web"), what="web rolled out")
    params = {"namespace": namespace, "name": "web", "resource": "memory", "factor": 1.5, "cap": "1Gi"}

    dry = await registry.invoke("increase_resources", params, ActionContext(kube=kube, dry_run=True))
    assert not dry.changed
    assert dry.message.startswith("dry-run: would raise memory")
    unchanged = await kube.get("Deployment", "web", namespace)
    assert persisted(unchanged) == persisted(before)

    ctx = ActionContext(kube=kube)
    result = await registry.invoke("increase_resources", params, ctx)
    assert result.changed
    assert result.output["previous"] == {"limit": "256Mi", "request": "128Mi"}
    assert result.output["new"] == {"limit": "384Mi", "request": "192Mi"}
    assert result.output["container"] == "main"
    assert not result.output["capped"]
    raised = {"limits": {"memory": "384Mi", "cpu": "500m"}, "requests": {"memory": "192Mi", "cpu": "250m"}}
    current = await kube.get("Deployment", "web", namespace)
    assert current["spec"]["template"]["spec"]["containers"][0]["resources"] == raised
    assert (
        "resources" not in current["spec"]["template"]["spec"]["containers"][1]
        or not (current["spec"]["template"]["spec"]["containers"][1]["resources"])
    )

    async def pods_have(resources: dict[str, Any]) -> bool:
        got = await _pod_resources(kube, namespace, "web")
        return (
            len(got) == 2
            and all(r == resources for r in got)
            and bool(await rolled_out(kube, "Deployment", namespace, "web"))
        )

    await wait_for(lambda: pods_have(raised), what="pods with the raised memory")

    # The same value again, or the factor once the cap is reached, changes nothing.
    same = await registry.invoke("increase_resources", {**params, "factor": None, "value": "384Mi"}, ctx)
    assert not same.changed
    assert same.undo is None
    capped = await registry.invoke("increase_resources", {**params, "cap": "384Mi"}, ctx)
    assert not capped.changed
    settled = await kube.get("Deployment", "web", namespace)
    assert settled["metadata"]["generation"] == current["metadata"]["generation"]

    assert result.undo is not None
    undone = await registry.undo("increase_resources", result.undo, ctx)
    assert undone.changed
    restored = await kube.get("Deployment", "web", namespace)
    assert restored["spec"]["template"] == before["spec"]["template"]
    await wait_for(lambda: pods_have(RESOURCES), what="pods back on the old memory")
    assert not (await registry.undo("increase_resources", result.undo, ctx)).changed


async def test_increase_cpu_to_value_respects_cap_on_named_container(kube: KubeClient, namespace: str) -> None:
    manifest = _with_resources("web", {"limits": {"memory": "64Mi"}})
    manifest["spec"]["template"]["spec"]["containers"][1]["resources"] = {
        "limits": {"cpu": "500m"},
        "requests": {"cpu": "200m"},
    }
    await kube.create("Deployment", manifest, namespace)
    before = await kube.get("Deployment", "web", namespace)
    ctx = ActionContext(kube=kube)
    params = {
        "namespace": namespace,
        "name": "web",
        "container": "sidecar",
        "resource": "cpu",
        "value": "2",
        "cap": "1500m",
    }

    result = await registry.invoke("increase_resources", params, ctx)
    assert result.changed
    assert result.output["capped"]
    assert result.output["new"] == {"limit": "1500m", "request": "600m"}
    containers = (await kube.get("Deployment", "web", namespace))["spec"]["template"]["spec"]["containers"]
    assert containers[1]["resources"] == {"limits": {"cpu": "1500m"}, "requests": {"cpu": "600m"}}
    assert containers[0] == before["spec"]["template"]["spec"]["containers"][0]

    again = await registry.invoke("increase_resources", params, ctx)
    assert not again.changed
    assert "would not raise it" in again.message

    assert result.undo is not None
    await registry.undo("increase_resources", result.undo, ctx)
    after = await kube.get("Deployment", "web", namespace)
    assert after["spec"]["template"] == before["spec"]["template"]


async def test_increase_resources_on_a_statefulset(kube: KubeClient, namespace: str) -> None:
    manifest = _with_resources("db", {"requests": {"memory": "100M"}})
    manifest["kind"] = "StatefulSet"
    manifest["spec"]["serviceName"] = "db"
    await kube.create("StatefulSet", manifest, namespace)
    before = await kube.get("StatefulSet", "db", namespace)
    ctx = ActionContext(kube=kube)
    params = {
        "namespace": namespace,
        "name": "db",
        "kind": "StatefulSet",
        "resource": "memory",
        "factor": 2,
        "cap": "1G",
    }

    result = await registry.invoke("increase_resources", params, ctx)
    assert result.output["new"] == {"limit": None, "request": "200M"}
    got = await kube.get("StatefulSet", "db", namespace)
    assert got["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": {"memory": "200M"}}
    assert result.undo is not None
    await registry.undo("increase_resources", result.undo, ctx)
    assert (await kube.get("StatefulSet", "db", namespace))["spec"]["template"] == before["spec"]["template"]


async def test_increase_resources_failures(kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", _with_resources("web", {"limits": {"memory": "64Mi"}}), namespace)
    ctx = ActionContext(kube=kube)
    base = {"namespace": namespace, "name": "web", "resource": "cpu", "factor": 2, "cap": "1"}

    with pytest.raises(ActionError) as missing:
        await registry.invoke("increase_resources", {**base, "name": "nope"}, ctx)
    assert missing.value.category is ErrorCategory.NOT_FOUND
    assert "Deployment 'nope'" in str(missing.value)

    with pytest.raises(ActionError) as no_container:
        await registry.invoke("increase_resources", {**base, "container": "ghost"}, ctx)
    assert no_container.value.category is ErrorCategory.NOT_FOUND
    assert "containers: main, sidecar" in str(no_container.value)

    with pytest.raises(ActionError) as nothing:
        await registry.invoke("increase_resources", base, ctx)
    assert nothing.value.category is ErrorCategory.INVALID
    assert "neither a cpu request nor a cpu limit" in str(nothing.value)

    for bad in ({"value": "2"}, {"factor": None}, {"cap": "lots"}, {"factor": 0.5}):
        with pytest.raises(ActionError) as invalid:
            await registry.invoke("increase_resources", {**base, **bad}, ctx)
        assert invalid.value.category is ErrorCategory.INVALID
