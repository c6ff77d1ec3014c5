"""Backups: a CSI VolumeSnapshot of a PersistentVolumeClaim."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ApiError,
    Duration,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
    format_duration,
    parse_duration,
)
from suture_actions._common import NAME_PATTERN, NamespacedTarget, check_namespace, get_required, would
from suture_actions.jobs import MANAGED_BY, REMEDIATION_ANNOTATION

SNAPSHOT_API = "snapshot.storage.k8s.io/v1"
CLAIM_LABEL = "suture.dev/claim"


class BackupDataParams(NamespacedTarget):
    """A claim to snapshot; ``name`` is the PersistentVolumeClaim's."""

    snapshot_class: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        max_length=253,
        description="VolumeSnapshotClass to use; default: the cluster's default class for the claim's driver.",
    )
    wait: Duration = Field(
        default="0s",
        description="How long to wait for the snapshot to become readyToUse; 0s reports its state and returns.",
    )


def snapshot_name(claim: str, key: str) -> str:
    """``<claim>-backup-<hash>``: one snapshot per claim and idempotency key, found again by a replay."""
    digest = hashlib.sha256(f"{key}\n{claim}".encode()).hexdigest()[:10]
    return f"{claim[:200]}-backup-{digest}"


def _readiness(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the snapshot's status says, and nothing more: an empty status means no controller acted on it."""
    status = snapshot.get("status") or {}
    error = status.get("error") or {}
    return {
        "readyToUse": status.get("readyToUse"),
        "boundContent": status.get("boundVolumeSnapshotContentName"),
        "restoreSize": status.get("restoreSize"),
        "error": error.get("message"),
        "controllerSeen": bool(status),
    }


def _state(ready: dict[str, Any]) -> str:
    if ready["error"]:
        return f"failed: {ready['error']}"
    if ready["readyToUse"]:
        return "ready to use"
    if not ready["controllerSeen"]:
        return "not ready: its status is empty, so no snapshot controller has acted on it yet"
    return "not ready yet"


@action(
    name="backup_data",
    family="storage",
    params=BackupDataParams,
    # Low: it adds a snapshot and changes nothing the workload uses.
    risk=Risk.LOW,
    rbac=(
        RbacRule("", ("persistentvolumeclaims",), ("get",)),
        RbacRule("snapshot.storage.k8s.io", ("volumesnapshots",), ("get", "create")),
    ),
)
async def backup_data(ctx: ActionContext, params: BackupDataParams) -> ActionResult:
    """Take a CSI VolumeSnapshot of a PersistentVolumeClaim and report its readiness as its status says.

    The snapshot is named after the claim and the engine's idempotency key, so
    a replayed step finds the snapshot it created instead of taking a second
    one. Readiness is read from the snapshot's status: without a snapshot
    controller and a CSI driver the status stays empty and the output says so
    (``controllerSeen: false``) instead of pretending. With ``wait`` the step
    waits for ``readyToUse`` and fails on the snapshot's own error or on the
    timeout. There is no undo on purpose: rolling back a remediation must not
    delete the backup taken before it.
    """
    act = "backup_data"
    check_namespace(ctx, params.namespace, act)
    claim = await get_required(ctx, "PersistentVolumeClaim", params.name, params.namespace, act)
    if (claim.get("status") or {}).get("phase") != "Bound":
        raise ActionError(
            f"PersistentVolumeClaim {params.namespace}/{params.name} is not Bound; an unbound claim has no data",
            category=ErrorCategory.INVALID,
            action=act,
        )
    key = ctx.idempotency_key or ctx.remediation or "manual"
    name = snapshot_name(params.name, key)
    where = f"VolumeSnapshot {params.namespace}/{name}"
    output: dict[str, Any] = {"namespace": params.namespace, "claim": params.name, "snapshot": name}
    snapshot = await ctx.kube.get_or_none("VolumeSnapshot", name, params.namespace, api_version=SNAPSHOT_API)
    created = False
    if snapshot is None:
        metadata: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, CLAIM_LABEL: params.name}}
        if ctx.remediation:
            metadata["annotations"] = {REMEDIATION_ANNOTATION: ctx.remediation}
        # No ownerReference to the Remediation: a backup must outlive it (garbage collection would delete it).
        spec: dict[str, Any] = {"source": {"persistentVolumeClaimName": params.name}}
        if params.snapshot_class:
            spec["volumeSnapshotClassName"] = params.snapshot_class
        body = {"apiVersion": SNAPSHOT_API, "kind": "VolumeSnapshot", "metadata": metadata, "spec": spec}
        try:
            snapshot = await ctx.kube.create(
                "VolumeSnapshot", body, params.namespace, api_version=SNAPSHOT_API, dry_run=ctx.dry_run
            )
            created = not ctx.dry_run
        except ApiError as exc:
            if not exc.conflict:
                raise
            snapshot = await ctx.kube.get("VolumeSnapshot", name, params.namespace, api_version=SNAPSHOT_API)
        if ctx.dry_run:
            return ActionResult(
                changed=False, message=would(ctx, f"create {where} of claim {params.name}"), output=output
            )
    timeout = parse_duration(params.wait)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        ready = _readiness(snapshot)
        result = {**output, **ready, "reused": not created}
        if ready["error"]:
            raise ActionError(f"{where} failed: {ready['error']}", category=ErrorCategory.FAILED, action=act)
        if ready["readyToUse"] or timeout <= 0 or ctx.dry_run:
            # A snapshot named by this call's key exists only because this call created it (maybe on an
            # attempt whose answer was lost): still this call's change.
            ours = created or (bool(ctx.idempotency_key) and not ctx.dry_run)
            verb = "created" if ours else "found"
            return ActionResult(changed=ours, message=f"{verb} {where}; {_state(ready)}", output=result)
        if loop.time() - started >= timeout:
            raise ActionError(
                f"{where} is not ready after {format_duration(timeout)} ({_state(ready)}); a retry waits for it",
                category=ErrorCategory.TIMEOUT,
                action=act,
            )
        await asyncio.sleep(ctx.poll_interval)
        snapshot = await get_required(ctx, "VolumeSnapshot", name, params.namespace, act, api_version=SNAPSHOT_API)


ACTIONS: list[ActionSpec[Any]] = [backup_data]
