"""HPA bounds and container requests/limits."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from suture.actions import ActionContext, ActionError, ActionResult, ActionSpec, ErrorCategory, RbacRule, Risk, action
from suture_actions._common import NamespacedTarget, check_namespace, get_required, original, retry_on_conflict, would
from suture_actions.quantity import format_quantity, is_binary, parse_quantity, round_up

HPA = "HorizontalPodAutoscaler"
WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]
_CONTAINER_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_MEBI = Fraction(2**20)


# -- update_hpa ---------------------------------------------------------------------


class UpdateHpaParams(NamespacedTarget):
    """New bounds for a HorizontalPodAutoscaler; an omitted bound is left as it is."""

    min_replicas: int | None = Field(default=None, ge=1, le=1000, description="New minimum replica count.")
    max_replicas: int | None = Field(default=None, ge=1, le=1000, description="New maximum replica count.")

    @model_validator(mode="after")
    def _bounds(self) -> UpdateHpaParams:
        if self.min_replicas is None and self.max_replicas is None:
            raise ValueError("give minReplicas, maxReplicas or both")
        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) is above maxReplicas ({self.max_replicas})")
        return self


async def _set_hpa_bounds(
    ctx: ActionContext, namespace: str, name: str, wanted: Mapping[str, int | None], act: str
) -> ActionResult:
    """Set the given keys of the HPA's spec (None removes one) and report the previous bounds."""
    check_namespace(ctx, namespace, act)

    async def attempt() -> ActionResult:
        hpa = await get_required(ctx, HPA, name, namespace, act)
        spec = hpa.get("spec", {})
        live = {"minReplicas": spec.get("minReplicas"), "maxReplicas": spec.get("maxReplicas")}
        # The bounds before this call's first attempt: what a replay reports and undoes to.
        before = await original(ctx, "bounds", live)
        after = {**before, **wanted}
        # The API server would reject this too, but with a message about the
        # merged object that does not say which bound the caller left alone.
        low, high = after["minReplicas"] or 1, after["maxReplicas"]
        if high is not None and low > high:
            raise ActionError(
                f"{HPA} {namespace}/{name} would get minReplicas {low} above maxReplicas {high}",
                category=ErrorCategory.INVALID,
                action=act,
            )
        output: dict[str, Any] = {"namespace": namespace, "name": name, "previous": before, **after}
        bounds = f"minReplicas {after['minReplicas']}, maxReplicas {after['maxReplicas']}"
        if after == before:
            return ActionResult(changed=False, message=f"{HPA} {namespace}/{name} already has {bounds}", output=output)
        was = f"minReplicas {before['minReplicas']}, maxReplicas {before['maxReplicas']}"
        undo = {"namespace": namespace, "name": name, **before}
        result = ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"set {HPA} {namespace}/{name} to {bounds} (was {was})"),
            output=output,
            undo=undo,
        )
        await ctx.intend(undo)
        if live == after:  # written by an earlier attempt of this call
            return result
        # resourceVersion in the patch makes it a compare-and-swap with what we read.
        patch = {"metadata": {"resourceVersion": hpa["metadata"]["resourceVersion"]}, "spec": after}
        await ctx.kube.patch(HPA, name, patch, namespace, dry_run=ctx.dry_run)
        return result

    return await retry_on_conflict(attempt)


async def _undo_update_hpa(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    wanted = {"minReplicas": data["minReplicas"], "maxReplicas": data["maxReplicas"]}
    return await _set_hpa_bounds(ctx, data["namespace"], data["name"], wanted, "undo update_hpa")


@action(
    name="update_hpa",
    family="resources",
    params=UpdateHpaParams,
    risk=Risk.LOW,
    rbac=(RbacRule("autoscaling", ("horizontalpodautoscalers",), ("get", "patch")),),
    undo=_undo_update_hpa,
    undo_description="restores the previous minReplicas and maxReplicas",
)
async def update_hpa(ctx: ActionContext, params: UpdateHpaParams) -> ActionResult:
    """Change a HorizontalPodAutoscaler's (autoscaling/v2) minReplicas and/or maxReplicas.

    Idempotent: bounds that already have the wanted values are left alone.
    """
    wanted: dict[str, int | None] = {}
    if params.min_replicas is not None:
        wanted["minReplicas"] = params.min_replicas
    if params.max_replicas is not None:
        wanted["maxReplicas"] = params.max_replicas
    return await _set_hpa_bounds(ctx, params.namespace, params.name, wanted, "update_hpa")


# -- increase_resources ------------------------------------------------------------


class IncreaseResourcesParams(NamespacedTarget):
    """Raise one container's memory or CPU, by a factor or to a value, never beyond a cap."""

    kind: WorkloadKind = Field(default="Deployment", description="Kind of the workload.")
    container: str | None = Field(
        default=None, pattern=_CONTAINER_NAME, max_length=63, description="Container to change; default: the first."
    )
    resource: Literal["memory", "cpu"] = Field(description="Which resource to raise.")
    factor: float | None = Field(
        default=None, gt=1, le=10, description="Multiply the current limit (and request) by this, e.g. 1.5."
    )
    value: str | None = Field(default=None, max_length=32, description="New limit as a quantity, e.g. 512Mi.")
    cap: str = Field(max_length=32, description="Quantity the new limit and request never exceed, e.g. 2Gi.")

    @field_validator("value", "cap")
    @classmethod
    def _positive_quantity(cls, text: str | None) -> str | None:
        if text is not None and parse_quantity(text) <= 0:
            raise ValueError(f"{text!r} must be above zero")
        return text

    @model_validator(mode="after")
    def _one_way(self) -> IncreaseResourcesParams:
        if (self.factor is None) == (self.value is None):
            raise ValueError("give exactly one of factor and value")
        return self


def _step(resource: str, binary: bool, value: Fraction) -> Fraction:
    """Granularity of a new value: whole millicores, whole MiB for binary memory, else whole bytes."""
    if resource == "cpu":
        return Fraction(1, 1000)
    return _MEBI if binary and value >= _MEBI else Fraction(1)


def _raised_resources(
    resources: Mapping[str, Any], params: IncreaseResourcesParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container's new ``resources`` and a summary of the change (``changed`` False when none is due).

    The limit is raised (the request when there is no limit) and the request is
    scaled by the same ratio, so the QoS class and the request/limit ratio stay
    as they were; the request never ends above the new limit.
    """
    res = params.resource
    old_limit: str | None = (resources.get("limits") or {}).get(res)
    old_request: str | None = (resources.get("requests") or {}).get(res)
    primary, old_text = ("limits", old_limit) if old_limit is not None else ("requests", old_request)
    if old_text is None:
        raise ValueError(f"it has neither a {res} request nor a {res} limit to increase")
    old = parse_quantity(old_text)
    cap = parse_quantity(params.cap)
    binary = is_binary(params.value or old_text)
    # str() first: Fraction(1.1) would carry the float's binary error into the result.
    target = old * Fraction(str(params.factor)) if params.factor is not None else parse_quantity(params.value or "")
    new = min(round_up(target, _step(res, binary, target)), cap)
    summary: dict[str, Any] = {
        "previous": {"limit": old_limit, "request": old_request},
        "new": {"limit": old_limit, "request": old_request},
        "capped": new == cap and target > cap,
        "changed": new > old,
    }
    if new <= old:
        return dict(resources), summary
    updated = copy.deepcopy(dict(resources))
    new_text = format_quantity(new, binary=binary)
    updated.setdefault(primary, {})[res] = new_text
    summary["new"]["limit" if primary == "limits" else "request"] = new_text
    if primary == "limits" and old_request is not None:
        scaled = parse_quantity(old_request) * new / old
        request = min(round_up(scaled, _step(res, is_binary(old_request), scaled)), new)
        summary["new"]["request"] = updated["requests"][res] = format_quantity(request, binary=is_binary(old_request))
    return updated, summary


def _find_container(obj: Mapping[str, Any], container: str | None, where: str, act: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    if container is None:
        return containers[0]
    for candidate in containers:
        if candidate["name"] == container:
            return candidate
    names = ", ".join(c["name"] for c in containers)
    raise ActionError(
        f"{where} has no container {container!r} (containers: {names})", category=ErrorCategory.NOT_FOUND, action=act
    )


async def _undo_increase_resources(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    act = "undo increase_resources"
    kind, namespace, name = data["kind"], data["namespace"], data["name"]
    check_namespace(ctx, namespace, act)
    where = f"{kind} {namespace}/{name}"

    async def attempt() -> ActionResult:
        obj = await get_required(ctx, kind, name, namespace, act)
        container = _find_container(obj, data["container"], where, act)
        output = {"kind": kind, "namespace": namespace, "name": name, "container": container["name"]}
        if container.get("resources") == data["resources"]:
            return ActionResult(
                changed=False,
                message=f"container {container['name']!r} of {where} already has its previous resources",
                output=output,
            )
        if data["resources"] is None:
            container.pop("resources", None)
        else:
            container["resources"] = copy.deepcopy(data["resources"])
        await ctx.kube.replace(kind, name, obj, namespace, dry_run=ctx.dry_run)
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"restore the resources of container {container['name']!r} of {where}"),
            output=output,
        )

    return await retry_on_conflict(attempt)


@action(
    name="increase_resources",
    family="resources",
    params=IncreaseResourcesParams,
    risk=Risk.HIGH,
    rbac=(RbacRule("apps", ("deployments", "statefulsets", "daemonsets"), ("get", "update")),),
    undo=_undo_increase_resources,
    undo_description="restores the container's previous requests and limits exactly (another rollout)",
)
async def increase_resources(ctx: ActionContext, params: IncreaseResourcesParams) -> ActionResult:
    """Raise a workload container's memory or CPU limit and request, by a factor or to a value, up to a cap.

    The change rolls the workload's pods. Idempotent: the new values are
    computed once from the resources before the step's first attempt (recorded
    by the engine), so a retried or resumed step applies a ``factor`` once. The
    values are never lowered.
    """
    act = "increase_resources"
    kind, namespace, name = params.kind, params.namespace, params.name
    check_namespace(ctx, namespace, act)
    where = f"{kind} {namespace}/{name}"

    async def attempt() -> ActionResult:
        obj = await get_required(ctx, kind, name, namespace, act)
        container = _find_container(obj, params.container, where, act)

        async def resources_now() -> dict[str, Any]:
            return {"resources": copy.deepcopy(container.get("resources"))}

        # Computed from the resources before this call's first attempt, so a
        # replay after a crash sets the same values instead of raising them again.
        previous = (await ctx.recall("resources", resources_now))["resources"]
        try:
            updated, summary = _raised_resources(previous or {}, params)
        except ValueError as exc:
            raise ActionError(
                f"cannot raise container {container['name']!r} of {where}: {exc}",
                category=ErrorCategory.INVALID,
                action=act,
            ) from None
        changed = summary.pop("changed")
        output: dict[str, Any] = {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "container": container["name"],
            "resource": params.resource,
            **summary,
        }
        what = f"{params.resource} of container {container['name']!r} of {where}"
        old, new = summary["previous"], summary["new"]
        if not changed:
            wanted = f"{params.value}" if params.value is not None else f"{params.factor}x"
            return ActionResult(
                changed=False,
                message=f"{what} is already at limit {old['limit']}, request {old['request']}: "
                f"{wanted} capped at {params.cap} would not raise it",
                output=output,
            )
        undo = {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "container": container["name"],
            "resources": copy.deepcopy(previous),
        }
        capped = f" (capped at {params.cap})" if summary["capped"] else ""
        message = would(
            ctx,
            f"raise {what}: limit {old['limit']} -> {new['limit']}, request {old['request']} -> {new['request']}"
            f"{capped}",
        )
        await ctx.intend(undo)
        if container.get("resources") == updated:
            # An earlier attempt of this call wrote it and then lost its reply (or its process).
            return ActionResult(changed=True, message=message, output=output, undo=undo)
        container["resources"] = updated
        # A PUT carrying the resourceVersion we read: a concurrent writer makes it
        # fail with 409 instead of being overwritten.
        await ctx.kube.replace(kind, name, obj, namespace, dry_run=ctx.dry_run)
        return ActionResult(changed=not ctx.dry_run, message=message, output=output, undo=undo)

    return await retry_on_conflict(attempt)


ACTIONS: list[ActionSpec[Any]] = [update_hpa, increase_resources]
