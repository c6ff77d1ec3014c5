"""Pod and workload lifecycle: restart, roll back, quarantine, clean up, suspend and resume CronJobs."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from suture.actions import ActionContext, ActionError, ActionResult, ActionSpec, ErrorCategory, RbacRule, Risk, action
from suture.kube import ApiError
from suture_actions._common import (
    NAME_PATTERN,
    NamespacedTarget,
    Params,
    check_namespace,
    controller_of,
    get_required,
    retry_on_conflict,
    would,
)

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
TEMPLATE_HASH = "pod-template-hash"
ROLLED_BACK_TO = "suture.dev/rolled-back-to"
QUARANTINED = "suture.dev/quarantined"
QUARANTINED_LABELS = "suture.dev/quarantined-labels"
_LISTED = 100  # names listed in an output; the count is always complete


def _gone(exc: ApiError) -> bool:
    """404, or 409 from a UID precondition: the incarnation we meant no longer exists."""
    return exc.status in (404, 409)


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
        if not _gone(exc):
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
    stamp = params.token or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

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
            return ActionResult(changed=False, message=f"{where} was already restarted with {stamp!r}", output=output)
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


# -- rollback_deployment -------------------------------------------------------------


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
        await _put_template(ctx, deployment, template, _hash_of(target))
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"roll back {where} to revision {revision} (ReplicaSet {target['metadata']['name']})"),
            output=output,
            undo={"namespace": namespace, "name": name, "template": copy.deepcopy(current), "marker": marker},
        )

    return await retry_on_conflict(attempt)


# -- quarantine_pod ------------------------------------------------------------------


# Owners whose selector we can read; a StatefulSet is refused because its
# replacement would need the name the quarantined pod keeps.
_SELECTING_OWNERS = {"ReplicaSet", "DaemonSet", "Job"}


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a metav1.LabelSelector selects ``labels``."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _selecting_keys(selector: Mapping[str, Any]) -> set[str]:
    """Label keys whose removal makes a pod fall out of ``selector``."""
    keys = set(selector.get("matchLabels") or {})
    keys.update(e["key"] for e in selector.get("matchExpressions") or [] if e["operator"] in ("In", "Exists"))
    return keys


def _names(items: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted(i["metadata"]["name"] for i in items)


class PodTarget(NamespacedTarget):
    """One pod."""


async def _undo_quarantine(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    act = "undo quarantine_pod"
    namespace, name = data["namespace"], data["name"]
    check_namespace(ctx, namespace, act)
    where = f"Pod {namespace}/{name}"
    restored: dict[str, str] = dict(data["labels"])

    async def attempt() -> ActionResult:
        pod = await ctx.kube.get_or_none("Pod", name, namespace)
        output = {"namespace": namespace, "name": name, "labels": restored}
        if pod is None or pod["metadata"]["uid"] != data["uid"]:
            return ActionResult(changed=False, message=f"{where} is gone; no labels to restore", output=output)
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        if QUARANTINED not in labels and QUARANTINED_LABELS not in (meta.get("annotations") or {}):
            return ActionResult(changed=False, message=f"{where} is not quarantined", output=output)
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "labels": {QUARANTINED: None, **restored},
                "annotations": {QUARANTINED_LABELS: None},
            }
        }
        await ctx.kube.patch("Pod", name, patch, namespace, dry_run=ctx.dry_run)
        return ActionResult(
            changed=not ctx.dry_run, message=would(ctx, f"restore the labels of {where}"), output=output
        )

    return await retry_on_conflict(attempt)


@action(
    name="quarantine_pod",
    family="lifecycle",
    params=PodTarget,
    risk=Risk.HIGH,
    rbac=(
        RbacRule("", ("pods",), ("get", "patch")),
        RbacRule("", ("services",), ("list",)),
        RbacRule("apps", ("replicasets", "daemonsets"), ("get",)),
        RbacRule("batch", ("jobs",), ("get",)),
    ),
    undo=_undo_quarantine,
    undo_description="restores the pod's labels; its controller may then adopt it again and remove a surplus pod",
)
async def quarantine_pod(ctx: ActionContext, params: PodTarget) -> ActionResult:
    """Take a pod out of its Services and its controller by relabelling it, and keep it running for debugging.

    The labels its controller's selector and any selecting Service match are
    removed (kept in the annotation ``suture.dev/quarantined-labels``) and
    ``suture.dev/quarantined: "true"`` is added; the controller then starts a
    replacement. StatefulSet pods are refused: the replacement would need the
    quarantined pod's name. Idempotent.
    """
    act = "quarantine_pod"
    namespace, name = params.namespace, params.name
    check_namespace(ctx, namespace, act)
    where = f"Pod {namespace}/{name}"

    async def attempt() -> ActionResult:
        pod = await get_required(ctx, "Pod", name, namespace, act)
        meta = pod["metadata"]
        labels: dict[str, str] = dict(meta.get("labels") or {})
        owner = controller_of(pod)
        output: dict[str, Any] = {
            "namespace": namespace,
            "name": name,
            "uid": meta["uid"],
            "owner": f"{owner['kind']}/{owner['name']}" if owner else None,
        }
        if labels.get(QUARANTINED) == "true":
            try:
                removed = json.loads((meta.get("annotations") or {}).get(QUARANTINED_LABELS, "{}"))
            except ValueError:  # edited by hand; the labels are still in the first call's undo data
                removed = None
            return ActionResult(
                changed=False, message=f"{where} is already quarantined", output={**output, "removedLabels": removed}
            )
        selectors: list[tuple[str, Mapping[str, Any]]] = []
        if owner is not None:
            if owner["kind"] not in _SELECTING_OWNERS:
                raise ActionError(
                    f"{where} belongs to {owner['kind']} {owner['name']}, which cannot replace a quarantined pod "
                    f"(quarantine works for pods of ReplicaSets, DaemonSets and Jobs)",
                    category=ErrorCategory.INVALID,
                    action=act,
                )
            controller = await get_required(ctx, owner["kind"], owner["name"], namespace, act)
            selectors.append((f"{owner['kind']} {owner['name']}", controller["spec"].get("selector") or {}))
        services = [
            svc
            for svc in await ctx.kube.list("Service", namespace)
            if (svc["spec"].get("selector") or {})
            and _selector_matches({"matchLabels": svc["spec"]["selector"]}, labels)
        ]
        selectors += [
            (f"Service {svc['metadata']['name']}", {"matchLabels": svc["spec"]["selector"]}) for svc in services
        ]
        keys = set().union(*(_selecting_keys(sel) for _, sel in selectors))
        removed = {k: v for k, v in labels.items() if k in keys}
        remaining = {k: v for k, v in labels.items() if k not in keys}
        still = [who for who, sel in selectors if _selector_matches(sel, remaining)]
        if still:
            raise ActionError(
                f"removing labels cannot take {where} out of {', '.join(still)}: its selector matches by absence",
                category=ErrorCategory.INVALID,
                action=act,
            )
        output.update(removedLabels=removed, services=_names(services))
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "labels": {**dict.fromkeys(removed), QUARANTINED: "true"},
                "annotations": {QUARANTINED_LABELS: json.dumps(removed, sort_keys=True)},
            }
        }
        await ctx.kube.patch("Pod", name, patch, namespace, dry_run=ctx.dry_run)
        out_of = ", ".join(who for who, _ in selectors) or "nothing (no controller or Service selects it)"
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"quarantine {where}: removed labels {sorted(removed)} to take it out of {out_of}"),
            output=output,
            undo={"namespace": namespace, "name": name, "uid": meta["uid"], "labels": removed},
        )

    return await retry_on_conflict(attempt)


# -- delete_failed_pods --------------------------------------------------------------


class DeleteFailedPodsParams(Params):
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
            if not _gone(exc):
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


# -- suspend_cronjob / resume_cronjob ------------------------------------------------


async def _set_suspend(ctx: ActionContext, namespace: str, name: str, suspend: bool | None, act: str) -> ActionResult:
    check_namespace(ctx, namespace, act)
    where = f"CronJob {namespace}/{name}"
    verb = "suspend" if suspend else "resume"

    async def attempt() -> ActionResult:
        cronjob = await get_required(ctx, "CronJob", name, namespace, act)
        before = cronjob["spec"].get("suspend")
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
        patch = {"metadata": {"resourceVersion": cronjob["metadata"]["resourceVersion"]}, "spec": {"suspend": suspend}}
        await ctx.kube.patch("CronJob", name, patch, namespace, dry_run=ctx.dry_run)
        note = f"; its {active} running Jobs keep running" if suspend and active else ""
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"{verb} {where}{note}"),
            output=output,
            undo={"namespace": namespace, "name": name, "suspend": before},
        )

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


ACTIONS: list[ActionSpec[Any]] = [
    restart_pod,
    restart_workload,
    rollback_deployment,
    quarantine_pod,
    delete_failed_pods,
    suspend_cronjob,
    resume_cronjob,
]
