"""Quarantine a pod: take it out of its Services and its controller, keep it running for debugging."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ErrorCategory,
    LabelSelector,
    RbacRule,
    Risk,
    action,
)
from suture_actions._common import (
    NamespacedTarget,
    check_namespace,
    controller_of,
    get_required,
    original,
    retry_on_conflict,
    would,
)

QUARANTINED = "suture.dev/quarantined"
QUARANTINED_LABELS = "suture.dev/quarantined-labels"


# Owners whose selector we can read; a StatefulSet is refused because its
# replacement would need the name the quarantined pod keeps.
_SELECTING_OWNERS = {"ReplicaSet", "DaemonSet", "Job"}


def _selecting_keys(selector: LabelSelector) -> set[str]:
    """Label keys whose removal makes a pod fall out of ``selector``."""
    keys = set(selector.match_labels)
    keys.update(e.key for e in selector.match_expressions if e.operator in ("In", "Exists"))
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
        earlier = await ctx.recorded("quarantine")
        if labels.get(QUARANTINED) == "true" and earlier is not None:
            # This very call quarantined it before a crash or a lost reply: same answer, same undo.
            return ActionResult(
                changed=True,
                message=f"quarantined {where}",
                output={**output, "removedLabels": earlier["value"]["labels"]},
                undo={"namespace": namespace, "name": name, "uid": meta["uid"], "labels": earlier["value"]["labels"]},
            )
        if labels.get(QUARANTINED) == "true":
            try:
                removed = json.loads((meta.get("annotations") or {}).get(QUARANTINED_LABELS, "{}"))
            except ValueError:  # edited by hand; the labels are still in the first call's undo data
                removed = None
            return ActionResult(
                changed=False, message=f"{where} is already quarantined", output={**output, "removedLabels": removed}
            )
        selectors: list[tuple[str, LabelSelector]] = []
        if owner is not None:
            if owner["kind"] not in _SELECTING_OWNERS:
                raise ActionError(
                    f"{where} belongs to {owner['kind']} {owner['name']}, which cannot replace a quarantined pod "
                    f"(quarantine works for pods of ReplicaSets, DaemonSets and Jobs)",
                    category=ErrorCategory.INVALID,
                    action=act,
                )
            controller = await get_required(ctx, owner["kind"], owner["name"], namespace, act)
            selector = LabelSelector.model_validate(controller["spec"].get("selector") or {})
            selectors.append((f"{owner['kind']} {owner['name']}", selector))
        services = []
        for svc in await ctx.kube.list("Service", namespace):
            by_service = LabelSelector(match_labels=svc["spec"].get("selector") or {})
            # A Service without a selector selects nothing (its endpoints are managed by hand).
            if by_service.match_labels and by_service.matches(labels):
                services.append(svc)
                selectors.append((f"Service {svc['metadata']['name']}", by_service))
        keys = set().union(*(_selecting_keys(sel) for _, sel in selectors))
        removed = {k: v for k, v in labels.items() if k in keys}
        remaining = {k: v for k, v in labels.items() if k not in keys}
        still = [who for who, sel in selectors if sel.matches(remaining)]
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
        undo = {"namespace": namespace, "name": name, "uid": meta["uid"], "labels": removed}
        await original(ctx, "quarantine", {"labels": removed})
        await ctx.intend(undo)
        await ctx.kube.patch("Pod", name, patch, namespace, dry_run=ctx.dry_run)
        out_of = ", ".join(who for who, _ in selectors) or "nothing (no controller or Service selects it)"
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"quarantine {where}: removed labels {sorted(removed)} to take it out of {out_of}"),
            output=output,
            undo=undo,
        )

    return await retry_on_conflict(attempt)


ACTIONS: list[ActionSpec[Any]] = [quarantine_pod]
