"""Node management: cordon, uncordon, drain, migrate a workload off a node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ActionSpec,
    Duration,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
)
from suture_actions._common import (
    NAME_PATTERN,
    NamespacedTarget,
    check_namespace,
    controller_of,
    get_required,
    original,
    would,
)
from suture_actions.eviction import EVICT_RBAC, evict_and_wait, pod_key

MIRROR = "kubernetes.io/config.mirror"
_LISTED = 100  # pods listed in an output; counts are always complete


class NodeTarget(ActionParams):
    """One node."""

    name: str = Field(pattern=NAME_PATTERN, max_length=253, description="Name of the node.")


def _cluster_only(ctx: ActionContext, act: str) -> None:
    """Nodes are cluster-scoped and shared by every namespace: a namespaced template may not touch them."""
    if ctx.allowed_namespace is not None:
        raise ActionError(
            f"nodes are cluster-scoped; a template confined to namespace {ctx.allowed_namespace!r} cannot act on them",
            category=ErrorCategory.FORBIDDEN,
            action=act,
        )


# -- cordon_node / uncordon_node -----------------------------------------------------


async def _set_unschedulable(ctx: ActionContext, name: str, value: bool | None, act: str) -> ActionResult:
    """Set ``spec.unschedulable`` (None removes it, as ``kubectl uncordon`` does).

    The API server never stores ``false`` (the field is omitted when empty), so
    None and False are the same state and an undo with either is exact.
    """
    _cluster_only(ctx, act)
    node = await get_required(ctx, "Node", name, None, act)
    live = node["spec"].get("unschedulable")
    before = await original(ctx, "unschedulable", live)
    output: dict[str, Any] = {"name": name, "unschedulable": bool(value), "previous": before}
    if bool(before) == bool(value):
        state = "cordoned" if value else "schedulable"
        return ActionResult(changed=False, message=f"Node {name} is already {state}", output=output)
    verb = "cordon" if value else "uncordon"
    undo = {"name": name, "unschedulable": before}
    result = ActionResult(changed=not ctx.dry_run, message=would(ctx, f"{verb} Node {name}"), output=output, undo=undo)
    await ctx.intend(undo)
    if bool(live) == bool(value):  # written by an earlier attempt of this call
        return result
    # No resourceVersion precondition: the kubelet bumps it with every status
    # heartbeat, and writing one absolute field cannot lose anyone else's change.
    await ctx.kube.patch("Node", name, {"spec": {"unschedulable": value}}, dry_run=ctx.dry_run)
    return result


async def _undo_schedulable(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    return await _set_unschedulable(ctx, data["name"], data["unschedulable"], "undo node schedulability")


_NODE_RBAC = RbacRule("", ("nodes",), ("get", "patch"))


@action(
    name="cordon_node",
    family="nodes",
    params=NodeTarget,
    risk=Risk.LOW,
    rbac=(_NODE_RBAC,),
    undo=_undo_schedulable,
    undo_description="makes the node schedulable again (restores its previous setting)",
)
async def cordon_node(ctx: ActionContext, params: NodeTarget) -> ActionResult:
    """Mark a node unschedulable so that no new pods land on it; running pods stay. Idempotent."""
    return await _set_unschedulable(ctx, params.name, True, "cordon_node")


@action(
    name="uncordon_node",
    family="nodes",
    params=NodeTarget,
    risk=Risk.LOW,
    rbac=(_NODE_RBAC,),
    undo=_undo_schedulable,
    undo_description="cordons the node again (restores its previous setting)",
)
async def uncordon_node(ctx: ActionContext, params: NodeTarget) -> ActionResult:
    """Make a cordoned node schedulable again. Idempotent."""
    return await _set_unschedulable(ctx, params.name, None, "uncordon_node")


# -- drain_node ----------------------------------------------------------------------


class DrainParams(NodeTarget):
    """A node to empty, and how long to wait for disruption budgets."""

    timeout: Duration = Field(default="2m", description="How long to keep retrying refused evictions, in total.")
    grace_period_seconds: int | None = Field(
        default=None, ge=0, le=3600, description="Seconds each pod gets to stop; default: the pod's own setting."
    )
    force: bool = Field(
        default=False, description="Also evict pods that no controller manages; nothing recreates them."
    )


def _drain_plan(
    pods: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, str]], list[str]]:
    """Split a node's pods into (to evict, already terminating, skipped with reason, unmanaged)."""
    evict: list[dict[str, Any]] = []
    terminating: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    unmanaged: list[str] = []
    for pod in sorted(pods, key=pod_key):
        owner = controller_of(pod)
        if MIRROR in (pod["metadata"].get("annotations") or {}):
            skipped.append({"pod": pod_key(pod), "reason": "mirror pod"})
        elif owner is not None and owner["kind"] == "DaemonSet":
            skipped.append({"pod": pod_key(pod), "reason": "DaemonSet"})
        elif pod["metadata"].get("deletionTimestamp"):
            terminating.append(pod)
        else:
            if owner is None and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                unmanaged.append(pod_key(pod))
            evict.append(pod)
    return evict, terminating, skipped, unmanaged


@action(
    name="drain_node",
    family="nodes",
    params=DrainParams,
    risk=Risk.DISRUPTIVE,
    rbac=(_NODE_RBAC, *EVICT_RBAC),
    undo=_undo_schedulable,
    undo_description="uncordons the node (restores its previous schedulability); evicted pods are not moved back",
)
async def drain_node(ctx: ActionContext, params: DrainParams) -> ActionResult:
    """Cordon a node and evict its pods through the Eviction API, respecting PodDisruptionBudgets.

    DaemonSet pods and mirror pods are skipped. Refused evictions are retried
    until ``timeout``, then the drain fails naming the pod and its budget (the
    node stays cordoned). Pods no controller manages are refused unless
    ``force``. Idempotent: a drained node is left alone.
    """
    act = "drain_node"
    _cluster_only(ctx, act)
    where = f"Node {params.name}"
    await get_required(ctx, "Node", params.name, None, act)
    pods = await ctx.kube.list("Pod", None, field_selector=f"spec.nodeName={params.name}")
    evict, terminating, skipped, unmanaged = _drain_plan(pods)
    if unmanaged and not params.force:
        raise ActionError(
            f"{where} runs pods no controller manages, which eviction would lose for good: "
            f"{', '.join(unmanaged[:10])}; nothing was changed (set force to evict them anyway)",
            category=ErrorCategory.INVALID,
            action=act,
        )
    # undo is set exactly when the cordon changes (or, dry, would change) the node.
    cordon = await _set_unschedulable(ctx, params.name, True, act)
    cordoned = cordon.undo is not None
    evicted, blocked = await evict_and_wait(
        ctx,
        evict,
        terminating,
        timeout=params.timeout,
        grace=params.grace_period_seconds,
        what=f"draining {where}",
        epilogue="; the node stays cordoned (uncordon_node reopens it)",
    )
    output: dict[str, Any] = {
        "node": params.name,
        "cordoned": cordoned,
        "evicted": evicted[:_LISTED],
        "evictedCount": len(evicted),
        "skipped": skipped[:_LISTED],
    }
    if not cordoned and not evicted:
        return ActionResult(
            changed=False, message=f"{where} is already cordoned and has no pods to evict", output=output
        )
    steps = ["cordon it"] if cordoned else []
    steps.append(f"evict {len(evicted)} pods")
    if skipped:
        steps.append(f"skip {len(skipped)} DaemonSet/mirror pods")
    if blocked:
        output["blocked"] = [{"pod": b.pod, "reason": b.reason} for b in blocked]
        steps.append(f"{len(blocked)} evictions are refused right now ({blocked[0].reason})")
    return ActionResult(
        changed=not ctx.dry_run,
        message=would(ctx, f"drain {where}: {', '.join(steps)}"),
        output=output,
        undo=cordon.undo,
    )


# -- migrate_workload ----------------------------------------------------------------


class MigrateParams(NamespacedTarget):
    """A workload and the node to move its pods off."""

    kind: Literal["Deployment", "StatefulSet"] = Field(default="Deployment", description="Kind of the workload.")
    node: str = Field(pattern=NAME_PATTERN, max_length=253, description="The node to move the pods off.")
    timeout: Duration = Field(default="2m", description="How long to keep retrying refused evictions, in total.")
    grace_period_seconds: int | None = Field(
        default=None, ge=0, le=3600, description="Seconds each pod gets to stop; default: the pod's own setting."
    )


@action(
    name="migrate_workload",
    family="nodes",
    params=MigrateParams,
    risk=Risk.HIGH,
    rbac=(
        RbacRule("apps", ("deployments", "statefulsets"), ("get",)),
        RbacRule("apps", ("replicasets",), ("list",)),
        *EVICT_RBAC,
    ),
)
async def migrate_workload(ctx: ActionContext, params: MigrateParams) -> ActionResult:
    """Evict a Deployment's or StatefulSet's pods from one node so that they are rescheduled, respecting PDBs.

    The node is not cordoned, so the scheduler may place a replacement on it
    again; cordon it first to be sure. Idempotent: with none of the workload's
    pods on the node, nothing is done.
    """
    act = "migrate_workload"
    kind, namespace, name = params.kind, params.namespace, params.name
    check_namespace(ctx, namespace, act)
    where = f"{kind} {namespace}/{name}"
    workload = await get_required(ctx, kind, name, namespace, act)
    owners = {workload["metadata"]["uid"]}
    if kind == "Deployment":
        owners = {
            rs["metadata"]["uid"]
            for rs in await ctx.kube.list("ReplicaSet", namespace)
            if (ref := controller_of(rs)) is not None and ref.get("uid") in owners
        }
    on_node = await ctx.kube.list("Pod", namespace, field_selector=f"spec.nodeName={params.node}")
    mine = [p for p in on_node if (ref := controller_of(p)) is not None and ref.get("uid") in owners]
    evict = sorted((p for p in mine if not p["metadata"].get("deletionTimestamp")), key=pod_key)
    terminating = [p for p in mine if p["metadata"].get("deletionTimestamp")]
    output: dict[str, Any] = {"kind": kind, "namespace": namespace, "name": name, "node": params.node}
    if not evict and not terminating:
        return ActionResult(
            changed=False, message=f"{where} has no pods on node {params.node}", output={**output, "evicted": []}
        )
    evicted, blocked = await evict_and_wait(
        ctx,
        evict,
        terminating,
        timeout=params.timeout,
        grace=params.grace_period_seconds,
        what=f"moving {where} off node {params.node}",
    )
    output["evicted"] = evicted[:_LISTED]
    if blocked:
        output["blocked"] = [{"pod": b.pod, "reason": b.reason} for b in blocked]
    refused = f"; {len(blocked)} evictions are refused right now ({blocked[0].reason})" if blocked else ""
    return ActionResult(
        changed=bool(evicted) and not ctx.dry_run,
        message=would(
            ctx,
            f"evict {len(evicted)} pods of {where} from node {params.node} (it is not cordoned, so the scheduler "
            f"may place replacements there again){refused}",
        ),
        output=output,
    )


ACTIONS: list[ActionSpec[Any]] = [cordon_node, uncordon_node, drain_node, migrate_workload]
