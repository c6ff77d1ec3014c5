"""run_job against the real API server.

kwok's default ``pod-complete`` stage moves a Running pod owned by a Job to
Succeeded, so the Job controller marks such Jobs Complete within a second. A
failure is driven by hand: the pod is kept Pending (a nodeSelector no node
matches) and its status is set to Failed through the status subresource, which
the Job controller counts against backoffLimit.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient
from tests.conftest import persisted, wait_for

registry = load_registry()
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "backup"}},
    "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "echo done"]}]},
}
NOWHERE: dict[str, Any] = {
    **TEMPLATE,
    "spec": {**TEMPLATE["spec"], "nodeSelector": {"suture.dev/test": "no-such-node"}},
}


def _ctx(kube: KubeClient, **kw: Any) -> ActionContext:
    return ActionContext(kube=kube, poll_interval=0.1, **kw)


async def _jobs(kube: KubeClient, namespace: str) -> list[str]:
    return sorted(j["metadata"]["name"] for j in await kube.list("Job", namespace))


async def test_runs_to_completion_and_a_repeat_reuses_the_job(kube: KubeClient, namespace: str) -> None:
    params = {"namespace": namespace, "name": "backup", "template": TEMPLATE, "timeout": "60s"}
    ctx = _ctx(kube, remediation=f"{namespace}/disk-full")

    dry = await registry.invoke("run_job", params, _ctx(kube, dry_run=True, remediation=ctx.remediation))
    assert dry.dry_run
    assert not dry.changed
    assert "would create" in dry.message
    assert await _jobs(kube, namespace) == []

    result = await registry.invoke("run_job", params, ctx)
    assert result.changed
    name = result.output["job"]
    assert name.startswith("backup-")
    assert len(name) == len("backup-") + 10
    assert result.output["succeeded"] == 1
    assert result.output["failed"] == 0
    assert result.output["reused"] is False
    assert result.undo is None
    assert not registry.get("run_job").reversible

    job = await kube.get("Job", name, namespace)
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "suture"
    assert job["metadata"]["annotations"]["suture.dev/remediation"] == ctx.remediation
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "ownerReferences" not in job["metadata"]  # no owner in the context

    again = await registry.invoke("run_job", params, ctx)
    assert not again.changed
    assert again.output["job"] == name
    assert again.output["reused"] is True
    assert await _jobs(kube, namespace) == [name]
    assert persisted(await kube.get("Job", name, namespace)) == persisted(job)

    dry_again = await registry.invoke("run_job", params, _ctx(kube, dry_run=True, remediation=ctx.remediation))
    assert "existing" in dry_again.message

    # Another key, or another run, is another Job.
    other = await registry.invoke("run_job", {**params, "idempotencyKey": "second"}, ctx)
    assert other.output["job"] != name
    assert len(await _jobs(kube, namespace)) == 2


async def test_owner_reference_only_in_the_remediations_namespace(kube: KubeClient, namespace: str) -> None:
    # Any object can stand in for the Remediation as the owner; a ConfigMap is the cheapest.
    owner_obj = await kube.create(
        "ConfigMap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, namespace
    )
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_obj["metadata"]["uid"]}
    params = {"namespace": namespace, "name": "owned", "template": TEMPLATE, "timeout": "60s"}

    mine = await registry.invoke("run_job", params, _ctx(kube, owner=owner, remediation=f"{namespace}/owner"))
    job = await kube.get("Job", mine.output["job"], namespace)
    assert job["metadata"]["ownerReferences"] == [owner]

    elsewhere = await registry.invoke("run_job", params, _ctx(kube, owner=owner, remediation="other-ns/owner"))
    job = await kube.get("Job", elsewhere.output["job"], namespace)
    assert "ownerReferences" not in job["metadata"]


async def test_a_failed_pod_fails_the_job(kube: KubeClient, namespace: str) -> None:
    params = {"namespace": namespace, "name": "failover", "template": NOWHERE, "timeout": "60s"}
    task = asyncio.create_task(registry.invoke("run_job", params, _ctx(kube)))

    async def pending_pod() -> dict[str, Any] | None:
        pods = await kube.list("Pod", namespace, label_selector="app=backup")
        return pods[0] if pods else None

    pod = await wait_for(pending_pod, what="the Job's pod")
    assert not task.done()
    failed_status = {
        "status": {
            "phase": "Failed",
            "reason": "Simulated",
            "message": "the script exited 1",
            "containerStatuses": [
                {
                    "name": "main",
                    "image": "busybox",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        }
    }
    await kube.patch("Pod", pod["metadata"]["name"], failed_status, namespace, subresource="status")
    with pytest.raises(ActionError) as info:
        await asyncio.wait_for(task, 60)
    assert info.value.category is ErrorCategory.FAILED
    assert "BackoffLimitExceeded" in str(info.value)
    assert "1 pod(s) failed" in str(info.value)

    # A repeat finds the same failed Job and reports it again rather than starting another.
    with pytest.raises(ActionError) as info:
        await registry.invoke("run_job", params, _ctx(kube))
    assert info.value.category is ErrorCategory.FAILED
    assert len(await _jobs(kube, namespace)) == 1


async def test_timeout_leaves_the_job_running(kube: KubeClient, namespace: str) -> None:
    params = {"namespace": namespace, "name": "slow", "template": NOWHERE, "timeout": "1s"}
    with pytest.raises(ActionError) as info:
        await registry.invoke("run_job", params, _ctx(kube))
    assert info.value.category is ErrorCategory.TIMEOUT
    [name] = await _jobs(kube, namespace)
    assert name in str(info.value)
    job = await kube.get("Job", name, namespace)
    assert not job.get("status", {}).get("conditions")


async def test_refusals(kube: KubeClient, namespace: str) -> None:
    missing = f"t-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ActionError) as info:
        await registry.invoke("run_job", {"namespace": missing, "name": "x", "template": TEMPLATE}, _ctx(kube))
    assert info.value.category is ErrorCategory.NOT_FOUND

    bad_templates: list[dict[str, Any]] = [
        {"spec": {"containers": []}},
        {"spec": TEMPLATE["spec"], "replicas": 2},
        {"spec": {**TEMPLATE["spec"], "restartPolicy": "Always"}},  # the API server refuses this for Jobs
    ]
    for template in bad_templates:
        with pytest.raises(ActionError) as info:
            await registry.invoke("run_job", {"namespace": namespace, "name": "x", "template": template}, _ctx(kube))
        assert info.value.category is ErrorCategory.INVALID
    assert await _jobs(kube, namespace) == []

    with pytest.raises(ActionError) as info:
        await registry.invoke("run_job", {"namespace": namespace, "name": "x" * 60, "template": TEMPLATE}, _ctx(kube))
    assert info.value.category is ErrorCategory.INVALID
