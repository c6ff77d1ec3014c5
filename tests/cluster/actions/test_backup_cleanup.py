"""backup_data (the published snapshot CRDs, no snapshot controller) and cleanup_storage on the real API server."""

from __future__ import annotations

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.actions.spec import LocalMemory
from suture.kube import KubeClient
from tests.cluster.actions.test_storage import bound_claim, pv_names, storage_classes  # noqa: F401 - fixtures
from tests.cluster.actions.thirdparty import snapshot_crds  # noqa: F401 - fixture
from tests.conftest import wait_for

registry = load_registry()
SNAPSHOT_API = "snapshot.storage.k8s.io/v1"


def _run(kube: KubeClient, key: str, **kw: object) -> ActionContext:
    return ActionContext(kube=kube, idempotency_key=key, memory=LocalMemory(), poll_interval=0.1, **kw)  # type: ignore[arg-type]


@pytest.mark.usefixtures("snapshot_crds")
async def test_backup_snapshots_a_bound_claim_once_and_says_no_controller_answered(
    kube: KubeClient,
    namespace: str,
    storage_classes: dict[str, str],  # noqa: F811
    pv_names: list[str],  # noqa: F811
) -> None:
    await bound_claim(kube, namespace, "data", storage_classes["expandable"], pv_names)
    params = {"namespace": namespace, "name": "data"}
    dry = await registry.invoke("backup_data", params, ActionContext(kube=kube, dry_run=True))
    assert "would create VolumeSnapshot" in dry.message
    assert await kube.list("VolumeSnapshot", namespace, api_version=SNAPSHOT_API) == []

    ctx = _run(kube, "run-a/backup", remediation=f"{namespace}/disk")
    result = await registry.invoke("backup_data", params, ctx)
    assert result.changed
    (snapshot,) = await kube.list("VolumeSnapshot", namespace, api_version=SNAPSHOT_API)
    assert snapshot["metadata"]["name"] == result.output["snapshot"]
    assert snapshot["spec"]["source"] == {"persistentVolumeClaimName": "data"}
    # No snapshot controller runs in the test cluster: the status stays empty and the action says so.
    assert result.output["controllerSeen"] is False
    assert result.output["readyToUse"] is None
    assert "no snapshot controller has acted on it" in result.message

    replay = await registry.invoke("backup_data", params, ctx)
    assert replay.output["snapshot"] == result.output["snapshot"]
    assert len(await kube.list("VolumeSnapshot", namespace, api_version=SNAPSHOT_API)) == 1

    with pytest.raises(ActionError, match="not ready after 1s") as caught:
        await registry.invoke("backup_data", {**params, "wait": "1s"}, ctx)
    assert caught.value.category is ErrorCategory.TIMEOUT

    # What a snapshot controller would write, through the status subresource: the action reads it as it is.
    await kube.patch(
        "VolumeSnapshot",
        result.output["snapshot"],
        {"status": {"readyToUse": True, "boundVolumeSnapshotContentName": "snapcontent-x"}},
        namespace,
        api_version=SNAPSHOT_API,
        subresource="status",
    )
    ready = await registry.invoke("backup_data", {**params, "wait": "10s"}, ctx)
    assert ready.output["readyToUse"] is True
    assert ready.output["boundContent"] == "snapcontent-x"


async def test_cleanup_storage_runs_find_in_a_job_on_the_claim(
    kube: KubeClient,
    namespace: str,
    storage_classes: dict[str, str],  # noqa: F811
    pv_names: list[str],  # noqa: F811
) -> None:
    await bound_claim(kube, namespace, "logs", storage_classes["fixed"], pv_names)
    params = {"namespace": namespace, "name": "logs", "pattern": "*.log; rm -rf ~", "olderThan": "168h", "path": "app"}
    dry = await registry.invoke("cleanup_storage", params, ActionContext(kube=kube, dry_run=True))
    assert "would delete files named '*.log; rm -rf ~' older than 168h under 'app'" in dry.message
    assert await kube.list("Job", namespace) == []

    ctx = _run(kube, "run-b/cleanup", remediation=f"{namespace}/disk")
    result = await registry.invoke("cleanup_storage", {**params, "timeout": "60s"}, ctx)
    assert result.changed
    job = await kube.get("Job", result.output["job"], namespace)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == [
        "find", "/suture-data/app", "-xdev", "-type", "f", "-name", "*.log; rm -rf ~",
        "-mmin", "+10080", "-print", "-delete",
    ]  # fmt: skip
    assert job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "logs"}
    # kwok's kubelet runs no container, so there is no log to list: said, not invented.
    assert result.output["logProblems"] or result.output["fileCount"] == 0

    replay = await registry.invoke("cleanup_storage", {**params, "timeout": "60s"}, ctx)
    assert replay.output["job"] == result.output["job"]
    assert len(await kube.list("Job", namespace)) == 1

    listed = await registry.invoke(
        "cleanup_storage", {**params, "listOnly": True, "timeout": "60s"}, _run(kube, "run-c/list")
    )
    assert not listed.changed
    job = await wait_for(lambda: kube.get_or_none("Job", listed.output["job"], namespace), what="the listing Job")
    mount = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
    assert mount["readOnly"] is True
    assert "-delete" not in job["spec"]["template"]["spec"]["containers"][0]["command"]
