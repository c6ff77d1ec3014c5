"""Clean up a namespace: delete its failed pods."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from suture.actions import ActionContext, ActionParams, ActionResult, ActionSpec, ApiError, RbacRule, Risk, action
from suture_actions._common import NAME_PATTERN, check_namespace, get_required, gone, would

_LISTED = 100  # names listed in an output; the count is always complete


class DeleteFailedPodsParams(ActionParams):
    """Which failed pods to delete."""

    namespace: str = Field(pattern=NAME_PATTERN, max_length=63, description="Namespace to clean up.")
    selector: str | None = Field(
        default=None, max_length=1024, description="Label selector limiting the pods, e.g. app=web."
    )


@action(
    name="delete_failed_pods",
    family="lifecycle",
    params=DeleteFailedPodsParams,
    risk=Risk.LOW,
    rbac=(
        RbacRule("", ("namespaces",), ("get",)),
        RbacRule("", ("pods",), ("list", "delete")),
    ),
)
async def delete_failed_pods(ctx: ActionContext, params: DeleteFailedPodsParams) -> ActionResult:
    """Delete the pods of a namespace whose phase is Failed (evicted, OOM-killed Jobs, ...), each by UID.

    Their logs and status go with them. Idempotent: a second call finds none.
    """
    act = "delete_failed_pods"
    namespace = params.namespace
    check_namespace(ctx, namespace, act)
    await get_required(ctx, "Namespace", namespace, None, act)
    pods = await ctx.kube.list("Pod", namespace, label_selector=params.selector, field_selector="status.phase=Failed")
    deleted: list[str] = []
    for pod in pods:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            continue
        try:
            await ctx.kube.delete("Pod", meta["name"], namespace, uid=meta["uid"], dry_run=ctx.dry_run)
        except ApiError as exc:
            if not gone(exc):
                raise
            continue
        deleted.append(meta["name"])
    deleted.sort()
    output: dict[str, Any] = {"namespace": namespace, "count": len(deleted), "deleted": deleted[:_LISTED]}
    among = f" matching {params.selector!r}" if params.selector else ""
    if not deleted:
        return ActionResult(changed=False, message=f"no failed pods{among} in namespace {namespace}", output=output)
    shown = ", ".join(deleted[:10]) + (", ..." if len(deleted) > 10 else "")
    return ActionResult(
        changed=not ctx.dry_run,
        message=would(ctx, f"delete {len(deleted)} failed pods{among} in namespace {namespace}: {shown}"),
        output=output,
    )


ACTIONS: list[ActionSpec[Any]] = [delete_failed_pods]
