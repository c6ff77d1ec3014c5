"""Roll a Deployment back to the pod template of an earlier revision."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from suture.actions import ActionContext, ActionError, ActionResult, ActionSpec, ErrorCategory, RbacRule, Risk, action
from suture_actions._common import (
    NamespacedTarget,
    check_namespace,
    controller_of,
    get_required,
    original,
    retry_on_conflict,
    would,
)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
TEMPLATE_HASH = "pod-template-hash"
ROLLED_BACK_TO = "suture.dev/rolled-back-to"


class RollbackParams(NamespacedTarget):
    """A Deployment and the revision to return to."""

    revision: int | None = Field(
        default=None, ge=1, description="Revision to return to; default: the one before the current revision."
    )


def _revision(rs: Mapping[str, Any]) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))


def _all_revisions(rs: Mapping[str, Any]) -> list[int]:
    """The RS's revision and the ones it had before: a rollback renumbers the RS it returns to."""
    history = (rs["metadata"].get("annotations") or {}).get(REVISION_HISTORY, "")
    return [_revision(rs), *(int(r) for r in history.split(",") if r.strip())]


def _template_of(rs: Mapping[str, Any]) -> dict[str, Any]:
    """The RS's pod template as the Deployment had it: without the hash label the controller adds."""
    template = copy.deepcopy(rs["spec"]["template"])
    template.get("metadata", {}).get("labels", {}).pop(TEMPLATE_HASH, None)
    return dict(template)


def _hash_of(rs: Mapping[str, Any]) -> str:
    return str((rs["metadata"].get("labels") or {}).get(TEMPLATE_HASH, rs["metadata"]["name"]))


def _pick_revision(
    owned: list[dict[str, Any]],
    current: Mapping[str, Any],
    wanted: int | None,
    marker: str | None,
    where: str,
    act: str,
) -> dict[str, Any]:
    """The ReplicaSet to roll back to."""
    if wanted is not None:
        for rs in owned:
            if wanted in _all_revisions(rs):
                return rs
        known = ", ".join(str(r) for r in sorted({_revision(rs) for rs in owned})) or "none"
        raise ActionError(
            f"{where} has no revision {wanted} (revisions: {known})", category=ErrorCategory.NOT_FOUND, action=act
        )
    # Without a marker a repeated call would roll "back" to the template it just
    # left, flipping between two revisions.
    for rs in owned:
        if marker and _hash_of(rs) == marker and _template_of(rs) == current:
            return rs
    running = [_revision(rs) for rs in owned if _template_of(rs) == current]
    # A template the controller has not made a ReplicaSet for yet is newer than all of them.
    current_revision = max(running) if running else max((_revision(rs) for rs in owned), default=0) + 1
    earlier = [rs for rs in owned if _revision(rs) < current_revision and _template_of(rs) != current]
    if not earlier:
        raise ActionError(
            f"{where} has no revision before revision {current_revision} to roll back to",
            category=ErrorCategory.INVALID,
            action=act,
        )
    return max(earlier, key=_revision)


async def _put_template(
    ctx: ActionContext, deployment: dict[str, Any], template: Mapping[str, Any], marker: str | None
) -> None:
    """PUT the Deployment with a new pod template and rollback marker (None removes it)."""
    updated = copy.deepcopy(deployment)
    updated["spec"]["template"] = copy.deepcopy(dict(template))
    annotations = updated["metadata"].setdefault("annotations", {})
    if marker is None:
        annotations.pop(ROLLED_BACK_TO, None)
    else:
        annotations[ROLLED_BACK_TO] = marker
    meta = updated["metadata"]
    await ctx.kube.replace("Deployment", meta["name"], updated, meta["namespace"], dry_run=ctx.dry_run)


async def _undo_rollback(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    act = "undo rollback_deployment"
    namespace, name = data["namespace"], data["name"]
    check_namespace(ctx, namespace, act)
    where = f"Deployment {namespace}/{name}"

    async def attempt() -> ActionResult:
        deployment = await get_required(ctx, "Deployment", name, namespace, act)
        marker = (deployment["metadata"].get("annotations") or {}).get(ROLLED_BACK_TO)
        output = {"namespace": namespace, "name": name}
        if deployment["spec"]["template"] == data["template"] and marker == data["marker"]:
            return ActionResult(changed=False, message=f"{where} already has its previous pod template", output=output)
        await _put_template(ctx, deployment, data["template"], data["marker"])
        return ActionResult(
            changed=not ctx.dry_run, message=would(ctx, f"put back the pod template of {where}"), output=output
        )

    return await retry_on_conflict(attempt)


@action(
    name="rollback_deployment",
    family="lifecycle",
    params=RollbackParams,
    risk=Risk.HIGH,
    rbac=(
        RbacRule("apps", ("deployments",), ("get", "update")),
        RbacRule("apps", ("replicasets",), ("list",)),
    ),
    undo=_undo_rollback,
    undo_description="puts back the pod template the rollback replaced (rolling the pods again)",
)
async def rollback_deployment(ctx: ActionContext, params: RollbackParams) -> ActionResult:
    """Return a Deployment to the pod template of an earlier revision, as ``kubectl rollout undo`` does.

    The template comes from the Deployment's own ReplicaSets. Idempotent: a
    Deployment that already runs that template is left alone, and a repeated
    call without ``revision`` does not flip back to the template it left (the
    annotation ``suture.dev/rolled-back-to`` on the Deployment remembers the
    target; a later rollout of a new template makes a rollback possible again).
    """
    act = "rollback_deployment"
    namespace, name = params.namespace, params.name
    check_namespace(ctx, namespace, act)
    where = f"Deployment {namespace}/{name}"

    async def attempt() -> ActionResult:
        deployment = await get_required(ctx, "Deployment", name, namespace, act)
        if deployment["spec"].get("paused"):
            raise ActionError(
                f"{where} is paused: resume it before rolling back", category=ErrorCategory.INVALID, action=act
            )
        uid = deployment["metadata"]["uid"]
        owned = [
            rs
            for rs in await ctx.kube.list("ReplicaSet", namespace)
            if (ref := controller_of(rs)) is not None and ref.get("uid") == uid
        ]
        current = deployment["spec"]["template"]
        marker = (deployment["metadata"].get("annotations") or {}).get(ROLLED_BACK_TO)
        earlier = await ctx.recorded("rollback")
        if earlier is not None and earlier["value"]["to"] == current:
            # This very call rolled it back before a crash or a lost reply: same answer, same undo.
            first = earlier["value"]
            return ActionResult(
                changed=True,
                message=f"rolled back {where} to revision {first['revision']}",
                output={"namespace": namespace, "name": name, "revision": first["revision"]},
                undo={"namespace": namespace, "name": name, "template": first["template"], "marker": first["marker"]},
            )
        target = _pick_revision(owned, current, params.revision, marker, where, act)
        template = _template_of(target)
        revision = params.revision or _revision(target)
        output: dict[str, Any] = {
            "namespace": namespace,
            "name": name,
            "revision": revision,
            "replicaSet": target["metadata"]["name"],
        }
        if template == current:
            return ActionResult(
                changed=False, message=f"{where} already runs the pod template of revision {revision}", output=output
            )
        undo = {"namespace": namespace, "name": name, "template": copy.deepcopy(current), "marker": marker}
        await original(ctx, "rollback", {"template": current, "marker": marker, "revision": revision, "to": template})
        await ctx.intend(undo)
        await _put_template(ctx, deployment, template, _hash_of(target))
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"roll back {where} to revision {revision} (ReplicaSet {target['metadata']['name']})"),
            output=output,
            undo=undo,
        )

    return await retry_on_conflict(attempt)


ACTIONS: list[ActionSpec[Any]] = [rollback_deployment]
