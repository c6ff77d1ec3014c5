"""Scaling and resources: replicas, HPA bounds, container requests and limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from suture.actions import ActionContext, ActionResult, RbacRule, Risk, action
from suture_actions._common import NamespacedTarget, check_namespace, get_required, would

_SCALE_RBAC = (
    RbacRule("apps", ("deployments",), ("get",)),
    RbacRule("apps", ("deployments/scale",), ("get", "patch")),
)


class ScaleParams(NamespacedTarget):
    """Set the replica count of a workload."""

    replicas: int = Field(ge=0, le=1000, description="Desired number of replicas.")


async def _scale(ctx: ActionContext, kind: str, namespace: str, name: str, replicas: int, act: str) -> ActionResult:
    check_namespace(ctx, namespace, act)
    obj = await get_required(ctx, kind, name, namespace, act)

    async def replicas_now() -> int:
        return int(obj.get("spec", {}).get("replicas", 1))

    # The count before this call's first attempt: a replay after a crash
    # reports (and undoes to) the original count, not the one it already set.
    before = await ctx.recall("replicas", replicas_now)
    output: dict[str, Any] = {
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "previous": before,
        "replicas": replicas,
    }
    if before == replicas:
        return ActionResult(
            changed=False, message=f"{kind} {namespace}/{name} already has {replicas} replicas", output=output
        )
    undo = {"kind": kind, "namespace": namespace, "name": name, "replicas": before}
    await ctx.intend(undo)
    # The scale subresource only touches spec.replicas: no conflict with other
    # writers of the pod template, and RBAC can grant exactly this.
    await ctx.kube.patch(
        kind, name, {"spec": {"replicas": replicas}}, namespace, subresource="scale", dry_run=ctx.dry_run
    )
    return ActionResult(
        changed=not ctx.dry_run,
        message=would(ctx, f"scale {kind} {namespace}/{name} from {before} to {replicas} replicas"),
        output=output,
        undo=undo,
    )


async def _undo_scale(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    return await _scale(ctx, data["kind"], data["namespace"], data["name"], int(data["replicas"]), "undo scale")


@action(
    name="scale_deployment",
    family="scaling",
    params=ScaleParams,
    risk=Risk.LOW,
    rbac=_SCALE_RBAC,
    undo=_undo_scale,
    undo_description="scales back to the previous replica count",
)
async def scale_deployment(ctx: ActionContext, params: ScaleParams) -> ActionResult:
    """Set a Deployment's replica count through its scale subresource."""
    return await _scale(ctx, "Deployment", params.namespace, params.name, params.replicas, "scale_deployment")


@action(
    name="scale_statefulset",
    family="scaling",
    params=ScaleParams,
    risk=Risk.HIGH,
    rbac=(
        RbacRule("apps", ("statefulsets",), ("get",)),
        RbacRule("apps", ("statefulsets/scale",), ("get", "patch")),
    ),
    undo=_undo_scale,
    undo_description="scales back to the previous replica count",
)
async def scale_statefulset(ctx: ActionContext, params: ScaleParams) -> ActionResult:
    """Set a StatefulSet's replica count through its scale subresource (pods stop in reverse ordinal order)."""
    return await _scale(ctx, "StatefulSet", params.namespace, params.name, params.replicas, "scale_statefulset")


ACTIONS = [scale_deployment, scale_statefulset]
