"""Annotate and label objects."""

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
    ErrorCategory,
    InvalidReference,
    RbacRule,
    ResourceInfo,
    Risk,
    UnknownKind,
    action,
    resource_info,
)
from suture_actions._common import NAME_PATTERN, check_namespace, get_required, retry_on_conflict, would

# The kinds these actions may touch; `suture rbac` grants exactly these rules, and
# _resolve refuses every other kind before sending anything.
_RBAC = (
    RbacRule("", ("pods", "services", "persistentvolumeclaims", "configmaps", "nodes"), ("get", "patch")),
    RbacRule("apps", ("deployments", "statefulsets", "daemonsets", "replicasets"), ("get", "patch")),
    RbacRule("batch", ("jobs", "cronjobs"), ("get", "patch")),
    RbacRule("autoscaling", ("horizontalpodautoscalers",), ("get", "patch")),
    RbacRule("policy", ("poddisruptionbudgets",), ("get", "patch")),
)
_ALLOWED = {(rule.api_group, resource) for rule in _RBAC for resource in rule.resources}
_MetaField = Literal["annotations", "labels"]


class MetadataTarget(ActionParams):
    """Any object: kind (and apiVersion for kinds Suture does not know), namespace unless cluster-scoped, name."""

    kind: str = Field(min_length=1, description="Kind of the object, e.g. Pod, Deployment, Node.")
    api_version: str | None = Field(default=None, description="apiVersion; needed only for kinds Suture does not know.")
    namespace: str | None = Field(
        default=None, pattern=NAME_PATTERN, max_length=63, description="Namespace; omit for cluster-scoped kinds."
    )
    name: str = Field(pattern=NAME_PATTERN, max_length=253, description="Name of the object.")


class AnnotateParams(MetadataTarget):
    """Annotations to set; a null value removes the key."""

    annotations: dict[str, str | None] = Field(min_length=1, description="Keys to set; null removes a key.")


class LabelParams(MetadataTarget):
    """Labels to set; a null value removes the key."""

    labels: dict[str, str | None] = Field(min_length=1, description="Keys to set; null removes a key.")


def _resolve(kind: str, api_version: str | None, namespace: str | None, act: str) -> tuple[ResourceInfo, str | None]:
    """Where the object lives; the namespace is dropped for cluster-scoped kinds."""
    try:
        info = resource_info(kind, api_version)
    except (InvalidReference, UnknownKind) as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID, action=act) from None
    group = info.api_version.split("/")[0] if "/" in info.api_version else ""
    if (group, info.plural) not in _ALLOWED:
        # Refused here, not by RBAC halfway through: labels on kinds such as Namespaces drive
        # security policy (pod-security.kubernetes.io/*), so the operator is never granted them.
        allowed = ", ".join(sorted(plural for _, plural in _ALLOWED))
        raise ActionError(
            f"{act} may change only these kinds: {allowed}; not {kind}", category=ErrorCategory.FORBIDDEN, action=act
        )
    if info.namespaced and not namespace:
        raise ActionError(f"{kind} is namespaced: give its namespace", category=ErrorCategory.INVALID, action=act)
    return info, namespace if info.namespaced else None


async def _set(
    ctx: ActionContext,
    field: _MetaField,
    kind: str,
    api_version: str | None,
    namespace: str | None,
    name: str,
    values: Mapping[str, str | None],
    act: str,
) -> ActionResult:
    info, namespace = _resolve(kind, api_version, namespace, act)
    # A cluster-scoped object (namespace None) is outside any namespaced template.
    check_namespace(ctx, namespace, act)
    where = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    base = {"kind": kind, "apiVersion": info.api_version, "namespace": namespace, "name": name}

    async def attempt() -> ActionResult:
        obj = await get_required(ctx, kind, name, namespace, act, api_version=info.api_version)
        current: dict[str, str] = obj["metadata"].get(field) or {}

        async def values_now() -> dict[str, str | None]:
            return {key: current.get(key) for key in values}

        # The keys' values before this call's first attempt: a replay after a
        # crash restores (on undo) what was there originally, not its own write.
        original: dict[str, str | None] = await ctx.recall(field, values_now)
        # A null for a key that is absent already holds, so it is not a change.
        previous = {key: original.get(key) for key, value in values.items() if original.get(key) != value}
        if not previous:
            return ActionResult(
                changed=False,
                message=f"{where} already has these {field}",
                output={**base, field: {}, "previous": {}},
            )
        changes = {key: values[key] for key in previous}
        summary = ", ".join(f"{k}={v}" if v is not None else f"-{k}" for k, v in sorted(changes.items()))
        undo = {**base, field: previous}
        result = ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"set {field} of {where}: {summary}"),
            output={**base, field: changes, "previous": previous},
            undo=undo,
        )
        await ctx.intend(undo)
        patch = {key: value for key, value in changes.items() if current.get(key) != value}
        if not patch:  # written by an earlier attempt of this call
            return result
        # resourceVersion makes the merge patch a compare-and-swap on what was read.
        body = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"], field: patch}}
        await ctx.kube.patch(kind, name, body, namespace, api_version=info.api_version, dry_run=ctx.dry_run)
        return result

    return await retry_on_conflict(attempt)


async def _undo_annotate(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    return await _set(
        ctx,
        "annotations",
        data["kind"],
        data["apiVersion"],
        data["namespace"],
        data["name"],
        data["annotations"],
        "undo annotate",
    )


async def _undo_label(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    return await _set(
        ctx, "labels", data["kind"], data["apiVersion"], data["namespace"], data["name"], data["labels"], "undo label"
    )


@action(
    name="annotate",
    family="metadata",
    params=AnnotateParams,
    risk=Risk.LOW,
    rbac=_RBAC,
    undo=_undo_annotate,
    undo_description="puts back the previous values of the keys it changed and removes the keys it added",
)
async def annotate(ctx: ActionContext, params: AnnotateParams) -> ActionResult:
    """Set or remove annotations on an object with a merge patch; only the keys given are touched.

    Works only on the kinds its RBAC rules name (pods, services,
    persistentvolumeclaims, configmaps, nodes, deployments, statefulsets,
    daemonsets, replicasets, jobs, cronjobs, horizontalpodautoscalers,
    poddisruptionbudgets); any other kind, Namespaces among them, is refused
    before a request is sent, and `suture rbac` grants no more than these.
    """
    return await _set(
        ctx,
        "annotations",
        params.kind,
        params.api_version,
        params.namespace,
        params.name,
        params.annotations,
        "annotate",
    )


@action(
    name="label",
    family="metadata",
    params=LabelParams,
    # High, unlike annotate: labels decide selection, so a label change can take a
    # pod out of its Service's endpoints or out of its ReplicaSet (which then
    # starts a replacement).
    risk=Risk.HIGH,
    rbac=_RBAC,
    undo=_undo_label,
    undo_description="puts back the previous values of the keys it changed and removes the keys it added",
)
async def label(ctx: ActionContext, params: LabelParams) -> ActionResult:
    """Set or remove labels on an object with a merge patch; only the keys given are touched.

    Works only on the kinds its RBAC rules name (pods, services,
    persistentvolumeclaims, configmaps, nodes, deployments, statefulsets,
    daemonsets, replicasets, jobs, cronjobs, horizontalpodautoscalers,
    poddisruptionbudgets); any other kind, Namespaces among them, is refused
    before a request is sent, and `suture rbac` grants no more than these.
    """
    return await _set(
        ctx, "labels", params.kind, params.api_version, params.namespace, params.name, params.labels, "label"
    )


ACTIONS: list[ActionSpec[Any]] = [annotate, label]
