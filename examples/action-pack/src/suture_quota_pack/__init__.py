"""An example action pack: ``raise_quota`` lifts a ResourceQuota's object-count limit.

The alert it answers is kube-prometheus' ``KubeQuotaAlmostFull`` (labels ``namespace``,
``resourcequota``, ``resource``): a namespace is about to be refused new pods or objects.
Everything Suture needs to know about the action is declared next to it: its parameter
model, risk, RBAC, undo and whether it can be dry-run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ErrorCategory,
    RbacRule,
    Registry,
    Risk,
    action,
)

NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
# A quota's resource names are like "pods", "count/deployments.apps" or "services.loadbalancers".
RESOURCE = r"^[a-z0-9]([-a-z0-9./]*[a-z0-9])?$"


class RaiseQuota(ActionParams):
    """Which quota, which of its limits, and by how much (never beyond ``cap``)."""

    namespace: str = Field(pattern=NAME, max_length=63, description="Namespace of the ResourceQuota.")
    name: str = Field(pattern=NAME, max_length=253, description="Name of the ResourceQuota.")
    resource: str = Field(pattern=RESOURCE, max_length=253, description="The limit to raise, e.g. pods.")
    factor: float = Field(default=1.5, gt=1.0, le=4.0, description="Multiply the hard limit by this.")
    cap: int = Field(gt=0, description="Never raise the limit above this.")


def _count(value: Any, where: str) -> int:
    """An object-count quantity ("10"); memory or CPU quantities are out of this example's scope."""
    try:
        return int(str(value))
    except ValueError:
        raise ActionError(
            f"{where} is {value!r}: raise_quota handles object counts only", category=ErrorCategory.INVALID
        ) from None


async def _hard(ctx: ActionContext, namespace: str, name: str, resource: str, act: str) -> int:
    """The quota's current limit on ``resource``; an ApiError (404, 403, ...) becomes the action's error."""
    quota = await ctx.kube.get("ResourceQuota", name, namespace, api_version="v1")
    hard = ((quota.get("spec") or {}).get("hard") or {}).get(resource)
    if hard is None:
        raise ActionError(
            f"ResourceQuota {namespace}/{name} sets no limit on {resource!r}",
            category=ErrorCategory.INVALID,
            action=act,
        )
    return _count(hard, f"ResourceQuota {namespace}/{name} {resource}")


async def _set_hard(
    ctx: ActionContext, params: Mapping[str, Any], value: int, before: int, live: int, act: str
) -> ActionResult:
    """Write ``value`` as the limit (``before``: the pre-state the undo restores; ``live``: what is there now)."""
    namespace, name, resource = params["namespace"], params["name"], params["resource"]
    where = f"ResourceQuota {namespace}/{name}"
    output = {"namespace": namespace, "name": name, "resource": resource, "previous": before, "hard": value}
    if live == value:
        return ActionResult(changed=False, message=f"{where} already allows {value} {resource}", output=output)
    undo = {"namespace": namespace, "name": name, "resource": resource, "hard": before}
    await ctx.intend(undo)  # recorded before the write: the undo survives a crash right after it
    patch = {"spec": {"hard": {resource: str(value)}}}
    await ctx.kube.patch("ResourceQuota", name, patch, namespace, api_version="v1", dry_run=ctx.dry_run)
    verb = "would set" if ctx.dry_run else "set"
    return ActionResult(
        changed=not ctx.dry_run, message=f"{verb} {where} {resource} from {live} to {value}", output=output, undo=undo
    )


def _check_namespace(ctx: ActionContext, namespace: str, act: str) -> None:
    """The template's namespace rules hold for every pack's actions too."""
    reason = ctx.namespace_refusal(namespace)
    if reason is not None:
        raise ActionError(reason, category=ErrorCategory.FORBIDDEN, action=act)


async def _undo(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    act = "undo raise_quota"
    _check_namespace(ctx, data["namespace"], act)
    live = await _hard(ctx, data["namespace"], data["name"], data["resource"], act)
    return await _set_hard(ctx, data, int(data["hard"]), live, live, act)


@action(
    name="raise_quota",
    family="quota",
    params=RaiseQuota,
    risk=Risk.LOW,
    rbac=(RbacRule("", ("resourcequotas",), ("get", "patch")),),
    undo=_undo,
    undo_description="restores the limit the quota had before",
)
async def raise_quota(ctx: ActionContext, params: RaiseQuota) -> ActionResult:
    """Raise one object-count limit of a ResourceQuota by a factor, never beyond a cap. Idempotent."""
    act = "raise_quota"
    _check_namespace(ctx, params.namespace, act)
    live = await _hard(ctx, params.namespace, params.name, params.resource, act)
    # The pre-state is recalled: a replay after a crash computes the same target and the same undo.
    before = int(await ctx.recall("hard", lambda: _hard(ctx, params.namespace, params.name, params.resource, act)))
    wanted = min(params.cap, max(before + 1, math.ceil(before * params.factor)))
    return await _set_hard(ctx, params.model_dump(), wanted, before, live, act)


def register(registry: Registry) -> None:
    """The entry point: add this pack's actions."""
    registry.add(raise_quota)
