"""backup_data and cleanup_storage on the in-memory API server."""

from __future__ import annotations

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture_actions.files import CleanupStorageParams, find_command
from tests.fakes.kubeapi import FakeKubeApi
from tests.unit.actions.helpers import VOLUME_SNAPSHOT, claim, run_ctx

registry = load_registry()


def _api() -> FakeKubeApi:
    api = FakeKubeApi()
    api.serve(VOLUME_SNAPSHOT)
    api.add(claim())
    return api


async def test_backup_creates_one_snapshot_per_call_and_reports_that_no_controller_acted() -> None:
    api = _api()
    params = {"namespace": "shop", "name": "data"}
    dry = await registry.invoke("backup_data", params, ActionContext(kube=api.client(), dry_run=True))
    assert not dry.changed
    assert "would create VolumeSnapshot" in dry.message
    assert api.writes(persisted=True) == []

    ctx = run_ctx(api, remediation="shop/disk-full")
    result = await registry.invoke("backup_data", params, ctx)
    assert result.changed
    (snapshot,) = api.objects("VolumeSnapshot")
    assert snapshot["spec"] == {"source": {"persistentVolumeClaimName": "data"}}
    assert snapshot["metadata"]["labels"]["suture.dev/claim"] == "data"
    assert "ownerReferences" not in snapshot["metadata"]  # a backup outlives its Remediation
    assert result.output["controllerSeen"] is False
    assert result.output["readyToUse"] is None
    assert "no snapshot controller has acted on it" in result.message

    replay = await registry.invoke("backup_data", params, ctx)
    assert replay.output["snapshot"] == result.output["snapshot"]
    assert len(api.objects("VolumeSnapshot")) == 1
    other = await registry.invoke("backup_data", params, run_ctx(api, key="run-2/step"))
    assert other.output["snapshot"] != result.output["snapshot"]


async def test_backup_waits_for_readiness_and_fails_on_the_snapshots_own_error() -> None:
    api = _api()
    ctx = run_ctx(api)
    first = await registry.invoke("backup_data", {"namespace": "shop", "name": "data"}, ctx)
    name = first.output["snapshot"]
    stored = api.get("VolumeSnapshot", name, "shop")
    api.add({**stored, "status": {"readyToUse": True, "boundVolumeSnapshotContentName": "snapcontent-1"}})
    ready = await registry.invoke("backup_data", {"namespace": "shop", "name": "data", "wait": "5s"}, ctx)
    assert ready.output["readyToUse"] is True
    assert ready.output["boundContent"] == "snapcontent-1"
    assert "ready to use" in ready.message

    api.add({**stored, "status": {"readyToUse": False, "error": {"message": "driver refused"}}})
    with pytest.raises(ActionError, match="driver refused") as caught:
        await registry.invoke("backup_data", {"namespace": "shop", "name": "data", "wait": "5s"}, ctx)
    assert caught.value.category is ErrorCategory.FAILED


async def test_backup_of_an_unbound_claim_is_refused_and_waiting_times_out_honestly() -> None:
    api = _api()
    api.add(claim("pending", phase="Pending"))
    with pytest.raises(ActionError, match="not Bound"):
        await registry.invoke("backup_data", {"namespace": "shop", "name": "pending"}, run_ctx(api))
    with pytest.raises(ActionError, match="no snapshot controller") as caught:
        await registry.invoke("backup_data", {"namespace": "shop", "name": "data", "wait": "1s"}, run_ctx(api))
    assert caught.value.category is ErrorCategory.TIMEOUT


def test_cleanup_passes_the_pattern_as_one_argument_and_refuses_escapes() -> None:
    params = CleanupStorageParams.model_validate(
        {
            "namespace": "shop",
            "name": "data",
            "pattern": "*.log; rm -rf ~ #$(id)",
            "olderThan": "2h",
            "path": "logs/app",
        }
    )
    assert find_command(params) == [
        "find", "/suture-data/logs/app", "-xdev", "-type", "f", "-name", "*.log; rm -rf ~ #$(id)",
        "-mmin", "+120", "-print", "-delete",
    ]  # fmt: skip
    for bad in ({"pattern": "../x"}, {"pattern": "-exec"}, {"path": "../etc"}, {"path": "/etc"}, {"olderThan": "10s"}):
        with pytest.raises(ValueError, match=r"pattern|path|olderThan"):
            CleanupStorageParams.model_validate({"namespace": "shop", "name": "data", "pattern": "*.log", **bad})


async def test_cleanup_runs_a_job_mounting_the_claim_and_a_dry_run_creates_nothing() -> None:
    api = _api()
    params = {"namespace": "shop", "name": "data", "pattern": "*.tmp", "olderThan": "1h"}
    dry = await registry.invoke("cleanup_storage", params, ActionContext(kube=api.client(), dry_run=True))
    assert not dry.changed
    assert "would delete files named '*.tmp' older than 1h" in dry.message
    assert dry.output["command"][-1] == "-delete"
    assert api.objects("Job") == []

    ctx = run_ctx(api, remediation="shop/disk-full")

    def complete(request: object, response: object) -> None:
        for job in api.objects("Job"):
            if not job.get("status"):
                api.add({**job, "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}})
                labels = {"job-name": job["metadata"]["name"]}
                api.add(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": "pod-1", "namespace": "shop", "labels": labels},
                    }
                )

    api.after.append(complete)
    api.logs[("shop", "pod-1")] = "/suture-data/a.tmp\n/suture-data/b.tmp\n"
    result = await registry.invoke("cleanup_storage", params, ctx)
    (job,) = api.objects("Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == result.output["command"]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/suture-data", "readOnly": False}]
    assert job["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
    ]
    assert "sh" not in container["command"]
    assert result.changed
    assert result.output["files"] == ["/suture-data/a.tmp", "/suture-data/b.tmp"]
    assert "2 file(s) listed" in result.message
    again = await registry.invoke("cleanup_storage", params, ctx)
    assert again.output["job"] == result.output["job"]
    assert len(api.objects("Job")) == 1
