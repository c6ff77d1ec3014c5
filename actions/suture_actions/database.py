"""Database failover: a switchover requested through the database operator's own API (CloudNativePG)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from suture.actions import ActionContext, ActionError, ActionResult, ActionSpec, ErrorCategory, RbacRule, Risk, action
from suture_actions._common import (
    NAME_PATTERN,
    NamespacedTarget,
    check_namespace,
    get_required,
    original,
    retry_on_conflict,
    would,
)

CNPG_API = "postgresql.cnpg.io/v1"
CLUSTER_LABEL = "cnpg.io/cluster"
SWITCHOVER_PHASE = "Switchover in progress"  # CloudNativePG's own phase text for a requested switchover


class FailoverDatabaseParams(NamespacedTarget):
    """A CloudNativePG Cluster (``name``) and, optionally, the instance to promote."""

    target_instance: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        max_length=253,
        description="Instance (pod) to promote; default: the first ready replica by name.",
    )


def _ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )


async def _replicas(ctx: ActionContext, namespace: str, cluster: str, primary: str) -> list[dict[str, Any]]:
    pods = await ctx.kube.list("Pod", namespace, label_selector=f"{CLUSTER_LABEL}={cluster}")
    return sorted(
        (p for p in pods if p["metadata"]["name"] != primary and not p["metadata"].get("deletionTimestamp")),
        key=lambda p: (not _ready(p), p["metadata"]["name"]),
    )


async def _switch(
    ctx: ActionContext, namespace: str, name: str, target: str | None, act: str, *, reversible: bool
) -> dict[str, Any]:
    """Request a switchover of Cluster namespace/name to ``target`` (None: pick a replica); returns what was done."""
    where = f"Cluster {namespace}/{name}"

    async def attempt() -> dict[str, Any]:
        cluster = await get_required(ctx, "Cluster", name, namespace, act, api_version=CNPG_API)
        status = cluster.get("status") or {}
        current, pending = status.get("currentPrimary"), status.get("targetPrimary")
        if not current:
            raise ActionError(
                f"{where} reports no currentPrimary: CloudNativePG has not brought it up",
                category=ErrorCategory.INVALID,
                action=act,
            )
        before = await original(ctx, "primary", {"current": current, "target": pending})
        chosen = target
        if chosen is None:
            replicas = await _replicas(ctx, namespace, name, before["current"])
            if not replicas or not _ready(replicas[0]):
                raise ActionError(
                    f"{where} has no ready replica to promote", category=ErrorCategory.INVALID, action=act
                )
            chosen = str(replicas[0]["metadata"]["name"])
        chosen = await original(ctx, "chosen", chosen)
        result = {"namespace": namespace, "name": name, "previousPrimary": before["current"], "targetPrimary": chosen}
        if pending == chosen:  # already requested (by an earlier attempt of this call) or already primary
            return {**result, "requested": pending != current or before["current"] != current}
        if pending and pending != current:
            raise ActionError(
                f"{where} is already switching over to {pending}; not asking for {chosen} on top of it",
                category=ErrorCategory.CONFLICT,
                action=act,
            )
        pod = await ctx.kube.get_or_none("Pod", chosen, namespace)
        if pod is None or (pod["metadata"].get("labels") or {}).get(CLUSTER_LABEL) != name:
            raise ActionError(f"{chosen} is not an instance of {where}", category=ErrorCategory.INVALID, action=act)
        if reversible:  # the undo (a switchover back) is recorded before the request is written
            await ctx.intend({"namespace": namespace, "name": name, "previousPrimary": before["current"]})
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        # What `kubectl cnpg promote` writes: CloudNativePG serves no spec field or annotation for a
        # switchover; the operator acts on targetPrimary differing from currentPrimary in the status.
        patch = {
            "metadata": {"resourceVersion": cluster["metadata"]["resourceVersion"]},
            "status": {
                "targetPrimary": chosen,
                "targetPrimaryTimestamp": now,
                "phase": SWITCHOVER_PHASE,
                "phaseReason": f"Switching over to {chosen}",
            },
        }
        await ctx.kube.patch(
            "Cluster", name, patch, namespace, api_version=CNPG_API, subresource="status", dry_run=ctx.dry_run
        )
        return {**result, "requested": True}

    return await retry_on_conflict(attempt)


async def _undo(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    done = await _switch(
        ctx, data["namespace"], data["name"], data["previousPrimary"], "undo failover_database", reversible=False
    )
    where = f"Cluster {data['namespace']}/{data['name']}"
    return ActionResult(
        changed=done["requested"] and not ctx.dry_run,
        message=would(ctx, f"switch {where} back to {data['previousPrimary']}"),
        output=done,
    )


@action(
    name="failover_database",
    family="database",
    params=FailoverDatabaseParams,
    # Disruptive: connections to the old primary are cut while the replica is promoted.
    risk=Risk.DISRUPTIVE,
    rbac=(
        RbacRule("postgresql.cnpg.io", ("clusters",), ("get",)),
        RbacRule("postgresql.cnpg.io", ("clusters/status",), ("patch",)),
        RbacRule("", ("pods",), ("get", "list")),
    ),
    undo=_undo,
    undo_description="requests a switchover back to the instance that was primary before",
)
async def failover_database(ctx: ActionContext, params: FailoverDatabaseParams) -> ActionResult:
    """Ask CloudNativePG to switch a Cluster's primary over to a replica (a planned, graceful failover).

    The request is the one CloudNativePG's own ``kubectl cnpg promote`` makes:
    ``status.targetPrimary`` (with its timestamp and the ``Switchover in
    progress`` phase) written through the Cluster's status subresource,
    guarded by the resourceVersion read; the CloudNativePG operator then
    demotes the primary and promotes the target. The instance defaults to the
    first ready replica (pods labelled ``cnpg.io/cluster``). A switchover
    already in progress to another instance is refused. The primary and the
    choice are recorded on the first attempt, so a replay never asks twice.
    The step returns once the request is stored; wait for the Cluster's
    ``currentPrimary`` with a later step.
    """
    act = "failover_database"
    check_namespace(ctx, params.namespace, act)
    done = await _switch(ctx, params.namespace, params.name, params.target_instance, act, reversible=True)
    where = f"Cluster {params.namespace}/{params.name}"
    if not done["requested"]:
        return ActionResult(
            changed=False, message=f"{done['targetPrimary']} is already the primary of {where}", output=done
        )
    undo = {"namespace": params.namespace, "name": params.name, "previousPrimary": done["previousPrimary"]}
    return ActionResult(
        changed=not ctx.dry_run,
        message=would(
            ctx, f"request a switchover of {where} from {done['previousPrimary']} to {done['targetPrimary']}"
        ),
        output=done,
        undo=undo,
    )


ACTIONS: list[ActionSpec[Any]] = [failover_database]
