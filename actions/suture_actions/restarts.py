"""Restart a pod or roll all pods of a workload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ApiError,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
)
from suture_actions._common import (
    NamespacedTarget,
    check_namespace,
    controller_of,
    get_required,
    gone,
    original,
    retry_on_conflict,
    would,
)

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


# -- restart_pod ---------------------------------------------------------------------


class RestartPodParams(NamespacedTarget):
    """A pod to restart by deleting it."""

    uid: str | None = Field(
        default=None,
        max_length=64,
        description="Restart only this incarnation of the pod; when the pod is gone or has another UID, "
        "it was already restarted and nothing is done.",
    )
    grace_period_seconds: int | None = Field(
        default=None, ge=0, le=3600, description="Seconds the pod gets to stop; default: the pod's own setting."
    )


@action(
    name="restart_pod",
    family="lifecycle",
    params=RestartPodParams,
    risk=Risk.HIGH,
    rbac=(RbacRule("", ("pods",), ("get", "delete")),),
)
async def restart_pod(ctx: ActionContext, params: RestartPodParams) -> ActionResult:
    """Delete a pod so that its controller starts a fresh one; the delete is pinned to the pod's UID.

    A pod without a controller is refused: nothing would bring it back. Give
    ``uid`` to make a repeated call a no-op once that incarnation is gone.
    """
    act = "restart_pod"
    check_namespace(ctx, params.namespace, act)
    where = f"Pod {params.namespace}/{params.name}"
    pod = await ctx.kube.get_or_none("Pod", params.name, params.namespace)
    earlier = await ctx.recorded("uid")
    if params.uid is None and earlier is not None and (pod is None or pod["metadata"]["uid"] != earlier["value"]):
        # This very call deleted that pod before a crash or a lost reply: done, not "not found".
        return ActionResult(
            changed=True,
            message=f"{where} with UID {earlier['value']} was restarted",
            output={"namespace": params.namespace, "name": params.name, "uid": earlier["value"]},
        )
    if params.uid is not None and (pod is None or pod["metadata"]["uid"] != params.uid):
        return ActionResult(
            changed=False,
            message=f"{where} with UID {params.uid} is already gone",
            output={"namespace": params.namespace, "name": params.name, "uid": params.uid},
        )
    if pod is None:
        raise ActionError(f"{where} not found", category=ErrorCategory.NOT_FOUND, action=act)
    uid = pod["metadata"]["uid"]
    owner = controller_of(pod)
    output: dict[str, Any] = {
        "namespace": params.namespace,
        "name": params.name,
        "uid": uid,
        "owner": f"{owner['kind']}/{owner['name']}" if owner else None,
    }
    if owner is None:
        raise ActionError(
            f"{where} has no controller, so deleting it would not restart it",
            category=ErrorCategory.INVALID,
            action=act,
        )
    if pod["metadata"].get("deletionTimestamp"):
        return ActionResult(changed=False, message=f"{where} is already terminating", output=output)
    await original(ctx, "uid", uid)
    try:
        await ctx.kube.delete(
            "Pod",
            params.name,
            params.namespace,
            uid=uid,
            dry_run=ctx.dry_run,
            grace_period_seconds=params.grace_period_seconds,
        )
    except ApiError as exc:
        if not gone(exc):
            raise
        return ActionResult(changed=False, message=f"{where} with UID {uid} went away by itself", output=output)
    return ActionResult(
        changed=not ctx.dry_run,
        message=would(ctx, f"delete {where} (UID {uid}) so that {owner['kind']} {owner['name']} replaces it"),
        output=output,
    )


# -- restart_workload ----------------------------------------------------------------


class RestartWorkloadParams(NamespacedTarget):
    """A workload whose pods to roll."""

    kind: WorkloadKind = Field(default="Deployment", description="Kind of the workload.")
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Value for the restartedAt annotation; a call whose token is already there does nothing. "
        "Default: the current time.",
    )


@action(
    name="restart_workload",
    family="lifecycle",
    params=RestartWorkloadParams,
    risk=Risk.HIGH,
    rbac=(RbacRule("apps", ("deployments", "statefulsets", "daemonsets"), ("get", "patch")),),
)
async def restart_workload(ctx: ActionContext, params: RestartWorkloadParams) -> ActionResult:
    """Roll all pods of a Deployment, StatefulSet or DaemonSet, as ``kubectl rollout restart`` does.

    Sets the pod template annotation ``kubectl.kubernetes.io/restartedAt``; the
    controller then replaces the pods following its update strategy. With a
    ``token`` the call is idempotent.
    """
    act = "restart_workload"
    kind, namespace, name = params.kind, params.namespace, params.name
    check_namespace(ctx, namespace, act)
    where = f"{kind} {namespace}/{name}"
    # Recorded on the first attempt: a replay finds its own stamp and does not roll the pods again.
    stamp = params.token or await original(ctx, "stamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    async def attempt() -> ActionResult:
        obj = await get_required(ctx, kind, name, namespace, act)
        spec = obj["spec"]
        if spec.get("paused"):
            raise ActionError(
                f"{where} is paused: a restart would not roll out until it is resumed",
                category=ErrorCategory.INVALID,
                action=act,
            )
        previous = ((spec["template"].get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)
        output: dict[str, Any] = {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "restartedAt": stamp,
            "previous": previous,
        }
        if previous == stamp:
            replayed = params.token is None and ctx.idempotency_key != ""
            message = (
                f"restarted {where} (restartedAt={stamp})"
                if replayed
                else f"{where} was already restarted with {stamp!r}"
            )
            return ActionResult(changed=replayed, message=message, output=output)
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}},
        }
        await ctx.kube.patch(kind, name, patch, namespace, dry_run=ctx.dry_run)
        note = ""
        if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
            note = "; its updateStrategy is OnDelete, so pods restart only when deleted"
        return ActionResult(
            changed=not ctx.dry_run, message=would(ctx, f"restart {where} (restartedAt={stamp}){note}"), output=output
        )

    return await retry_on_conflict(attempt)


ACTIONS: list[ActionSpec[Any]] = [restart_pod, restart_workload]
