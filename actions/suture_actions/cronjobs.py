"""Suspend and resume CronJobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suture.actions import ActionContext, ActionResult, ActionSpec, RbacRule, Risk, action
from suture_actions._common import NamespacedTarget, check_namespace, get_required, original, retry_on_conflict, would


async def _set_suspend(ctx: ActionContext, namespace: str, name: str, suspend: bool | None, act: str) -> ActionResult:
    check_namespace(ctx, namespace, act)
    where = f"CronJob {namespace}/{name}"
    verb = "suspend" if suspend else "resume"

    async def attempt() -> ActionResult:
        cronjob = await get_required(ctx, "CronJob", name, namespace, act)
        live = cronjob["spec"].get("suspend")
        before = await original(ctx, "suspend", live)
        active = len((cronjob.get("status") or {}).get("active") or [])
        output: dict[str, Any] = {
            "namespace": namespace,
            "name": name,
            "suspend": bool(suspend),
            "previous": before,
            "activeJobs": active,
        }
        if bool(before) == bool(suspend):
            state = "suspended" if suspend else "not suspended"
            return ActionResult(changed=False, message=f"{where} is already {state}", output=output)
        note = f"; its {active} running Jobs keep running" if suspend and active else ""
        undo = {"namespace": namespace, "name": name, "suspend": before}
        result = ActionResult(
            changed=not ctx.dry_run, message=would(ctx, f"{verb} {where}{note}"), output=output, undo=undo
        )
        await ctx.intend(undo)
        if bool(live) == bool(suspend):  # written by an earlier attempt of this call
            return result
        patch = {"metadata": {"resourceVersion": cronjob["metadata"]["resourceVersion"]}, "spec": {"suspend": suspend}}
        await ctx.kube.patch("CronJob", name, patch, namespace, dry_run=ctx.dry_run)
        return result

    return await retry_on_conflict(attempt)


async def _undo_suspend(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    return await _set_suspend(ctx, data["namespace"], data["name"], data["suspend"], "undo suspend/resume")


_CRONJOB_RBAC = (RbacRule("batch", ("cronjobs",), ("get", "patch")),)


class CronJobTarget(NamespacedTarget):
    """One CronJob."""


@action(
    name="suspend_cronjob",
    family="lifecycle",
    params=CronJobTarget,
    risk=Risk.LOW,
    rbac=_CRONJOB_RBAC,
    undo=_undo_suspend,
    undo_description="resumes the CronJob (restores its previous suspend setting)",
)
async def suspend_cronjob(ctx: ActionContext, params: CronJobTarget) -> ActionResult:
    """Stop a CronJob from starting new Jobs; running Jobs are not touched. Idempotent."""
    return await _set_suspend(ctx, params.namespace, params.name, True, "suspend_cronjob")


@action(
    name="resume_cronjob",
    family="lifecycle",
    params=CronJobTarget,
    risk=Risk.LOW,
    rbac=_CRONJOB_RBAC,
    undo=_undo_suspend,
    undo_description="suspends the CronJob again (restores its previous suspend setting)",
)
async def resume_cronjob(ctx: ActionContext, params: CronJobTarget) -> ActionResult:
    """Let a suspended CronJob start Jobs on its schedule again. Idempotent."""
    return await _set_suspend(ctx, params.namespace, params.name, False, "resume_cronjob")


ACTIONS: list[ActionSpec[Any]] = [suspend_cronjob, resume_cronjob]
