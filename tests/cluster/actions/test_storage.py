"""expand_pvc against the real API server, with a PersistentVolume bound by hand (kwok has no provisioner)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient
from tests.conftest import wait_for

registry = load_registry()


@pytest.fixture
async def storage_classes(kube: KubeClient) -> AsyncIterator[dict[str, str]]:
    """Two StorageClasses unique to this test: one that allows expansion, one that does not."""
    suffix = uuid.uuid4().hex[:8]
    names = {"expandable": f"t-expand-{suffix}", "fixed": f"t-fixed-{suffix}"}
    for key, name in names.items():
        body = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "example.com/none",
            "allowVolumeExpansion": key == "expandable",
        }
        await kube.create("StorageClass", body)
    try:
        yield names
    finally:
        for name in names.values():
            await kube.delete("StorageClass", name)


@pytest.fixture
async def pv_names(kube: KubeClient) -> AsyncIterator[list[str]]:
    """PersistentVolume names created by a test, deleted afterwards (they are cluster-scoped)."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:
            await kube.delete("PersistentVolume", name)


async def bound_claim(
    kube: KubeClient, namespace: str, name: str, storage_class: str, pvs: list[str], size: str = "1Gi"
) -> dict[str, Any]:
    """A PVC bound to a pre-made PV: the PV controller binds them because each names the other."""
    pv = f"t-pv-{uuid.uuid4().hex[:8]}"
    pvs.append(pv)
    await kube.create(
        "PersistentVolume",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "hostPath": {"path": f"/tmp/{pv}"},
                "claimRef": {"namespace": namespace, "name": name},
            },
        },
    )
    await kube.create(
        "PersistentVolumeClaim",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "volumeName": pv,
                "resources": {"requests": {"storage": size}},
            },
        },
        namespace,
    )

    async def bound() -> dict[str, Any] | None:
        pvc = await kube.get("PersistentVolumeClaim", name, namespace)
        return pvc if pvc.get("status", {}).get("phase") == "Bound" else None

    result: dict[str, Any] = await wait_for(bound, what=f"PVC {name} to be Bound")
    return result


async def _request(kube: KubeClient, namespace: str, name: str) -> tuple[str, str]:
    pvc = await kube.get("PersistentVolumeClaim", name, namespace)
    return pvc["spec"]["resources"]["requests"]["storage"], pvc["metadata"]["resourceVersion"]


async def test_expand_pvc_to_size_dry_run_then_real_then_no_op(
    kube: KubeClient, namespace: str, storage_classes: dict[str, str], pv_names: list[str]
) -> None:
    await bound_claim(kube, namespace, "data", storage_classes["expandable"], pv_names)
    params = {"namespace": namespace, "name": "data", "size": "2Gi", "cap": "10Gi"}
    before = await _request(kube, namespace, "data")

    dry = await registry.invoke("expand_pvc", params, ActionContext(kube=kube, dry_run=True))
    assert dry.dry_run
    assert not dry.changed
    assert "would expand" in dry.message
    assert await _request(kube, namespace, "data") == before

    result = await registry.invoke("expand_pvc", params, ActionContext(kube=kube))
    assert result.changed
    assert result.undo is None
    assert result.output == {
        "namespace": namespace,
        "name": "data",
        "storageClass": storage_classes["expandable"],
        "previous": "1Gi",
        "capacity": "1Gi",
        "size": "2Gi",
        "capped": False,
    }
    request, version = await _request(kube, namespace, "data")
    assert request == "2Gi"

    again = await registry.invoke("expand_pvc", params, ActionContext(kube=kube))
    assert not again.changed
    assert await _request(kube, namespace, "data") == (request, version)
    assert not registry.get("expand_pvc").reversible


async def test_expand_pvc_by_factor_is_clamped_to_cap(
    kube: KubeClient, namespace: str, storage_classes: dict[str, str], pv_names: list[str]
) -> None:
    await bound_claim(kube, namespace, "data", storage_classes["expandable"], pv_names)
    params = {"namespace": namespace, "name": "data", "factor": 1.5, "cap": "1200Mi"}

    result = await registry.invoke("expand_pvc", params, ActionContext(kube=kube))
    assert result.changed
    assert result.output["size"] == "1200Mi"
    assert result.output["capped"] is True
    assert (await _request(kube, namespace, "data"))[0] == "1200Mi"

    # The factor applies to status.capacity (still 1Gi: no resizer runs here), so a
    # repeat computes the same target and changes nothing.
    again = await registry.invoke("expand_pvc", params, ActionContext(kube=kube))
    assert not again.changed
    assert "cap" in again.message

    uncapped = await registry.invoke("expand_pvc", {**params, "cap": "10Gi"}, ActionContext(kube=kube))
    assert uncapped.changed
    assert (await _request(kube, namespace, "data"))[0] == "1536Mi"


async def test_expand_pvc_refusals(
    kube: KubeClient, namespace: str, storage_classes: dict[str, str], pv_names: list[str]
) -> None:
    await bound_claim(kube, namespace, "fixed", storage_classes["fixed"], pv_names, size="2Gi")
    await bound_claim(kube, namespace, "data", storage_classes["expandable"], pv_names, size="2Gi")
    ctx = ActionContext(kube=kube)

    with pytest.raises(ActionError) as info:
        await registry.invoke("expand_pvc", {"namespace": namespace, "name": "fixed", "size": "3Gi", "cap": "9Gi"}, ctx)
    assert info.value.category is ErrorCategory.INVALID
    assert storage_classes["fixed"] in str(info.value)
    assert (await _request(kube, namespace, "fixed"))[0] == "2Gi"

    with pytest.raises(ActionError) as info:
        await registry.invoke("expand_pvc", {"namespace": namespace, "name": "data", "size": "1Gi", "cap": "9Gi"}, ctx)
    assert info.value.category is ErrorCategory.INVALID
    assert "shrink" in str(info.value)

    with pytest.raises(ActionError) as info:
        await registry.invoke("expand_pvc", {"namespace": namespace, "name": "data", "size": "3Gi", "cap": "1Gi"}, ctx)
    assert info.value.category is ErrorCategory.INVALID
    assert "cap" in str(info.value)
    assert (await _request(kube, namespace, "data"))[0] == "2Gi"

    with pytest.raises(ActionError) as info:
        await registry.invoke("expand_pvc", {"namespace": namespace, "name": "data", "cap": "9Gi"}, ctx)
    assert info.value.category is ErrorCategory.INVALID

    with pytest.raises(ActionError) as info:
        await registry.invoke("expand_pvc", {"namespace": namespace, "name": "nope", "size": "3Gi", "cap": "9Gi"}, ctx)
    assert info.value.category is ErrorCategory.NOT_FOUND
    assert "nope" in str(info.value)


async def test_expand_pvc_refuses_an_unbound_claim(
    kube: KubeClient, namespace: str, storage_classes: dict[str, str]
) -> None:
    await kube.create(
        "PersistentVolumeClaim",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "pending"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_classes["expandable"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        namespace,
    )
    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "expand_pvc",
            {"namespace": namespace, "name": "pending", "size": "2Gi", "cap": "9Gi"},
            ActionContext(kube=kube),
        )
    assert info.value.category is ErrorCategory.INVALID
    assert "Bound" in str(info.value)
