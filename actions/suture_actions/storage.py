"""Storage: expand a PersistentVolumeClaim."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from pydantic import Field, field_validator, model_validator

from suture.actions import ActionContext, ActionError, ActionResult, ActionSpec, ErrorCategory, RbacRule, Risk, action
from suture_actions._common import NamespacedTarget, check_namespace, get_required, retry_on_conflict, would
from suture_actions.quantity import format_quantity, parse_quantity, round_up

_MI = 2**20


def _parse_bytes(text: str) -> int:
    """Bytes in a Kubernetes quantity such as ``10Gi``, ``500M`` or ``1e9``, rounded up to a whole byte.

    Raises ValueError naming the text when it is not a quantity or is negative.
    """
    value = parse_quantity(text.strip())
    if value < 0:
        raise ValueError(f"{text!r} is not a storage quantity: it is negative")
    return math.ceil(value)


def _format_bytes(n: int) -> str:
    """The shortest exact form with a suffix: 2147483648 -> ``2Gi``, 500000000 -> ``500M``; else plain bytes."""
    # A power-of-two form wins a tie: sizes are usually written that way.
    return min(format_quantity(Fraction(n), binary=True), format_quantity(Fraction(n)), key=len)


class ExpandPvcParams(NamespacedTarget):
    """Grow a PersistentVolumeClaim to a size, or by a factor, never beyond a cap."""

    size: str | None = Field(default=None, description="Target size as a quantity, e.g. 20Gi. Exclusive with factor.")
    factor: float | None = Field(
        default=None,
        gt=1.0,
        le=10.0,
        description="Grow the current capacity by this factor (rounded up to a whole Mi). Exclusive with size.",
    )
    cap: str = Field(description="Never request more than this quantity, e.g. 100Gi.")

    @field_validator("size", "cap")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_bytes(value)
        return value

    @model_validator(mode="after")
    def _size_or_factor(self) -> ExpandPvcParams:
        if (self.size is None) == (self.factor is None):
            raise ValueError("give exactly one of size and factor")
        return self


@action(
    name="expand_pvc",
    family="storage",
    params=ExpandPvcParams,
    # High: it cannot be undone (volumes never shrink) and it raises what the storage costs.
    risk=Risk.HIGH,
    rbac=(
        RbacRule("", ("persistentvolumeclaims",), ("get", "patch")),
        RbacRule("storage.k8s.io", ("storageclasses",), ("get",)),
    ),
)
async def expand_pvc(ctx: ActionContext, params: ExpandPvcParams) -> ActionResult:
    """Raise a bound PersistentVolumeClaim's storage request, only where its StorageClass allows expansion.

    The new request is ``size``, or ``factor`` times the claim's current capacity
    (``status.capacity``, falling back to the request), rounded up to a whole Mi
    and clamped to ``cap``. The sizes are those before the step's first attempt
    (recorded by the engine), so a retried or resumed step grows the claim once;
    a new run grows it again. The claim is never
    shrunk (Kubernetes cannot shrink a volume), so there is no undo.
    """
    act = "expand_pvc"
    check_namespace(ctx, params.namespace, act)
    cap = _parse_bytes(params.cap)

    async def attempt() -> ActionResult:
        pvc = await get_required(ctx, "PersistentVolumeClaim", params.name, params.namespace, act)
        where = f"PersistentVolumeClaim {params.namespace}/{params.name}"
        class_name = pvc.get("spec", {}).get("storageClassName")
        if not class_name:
            raise ActionError(f"{where} has no StorageClass; it cannot be expanded", category=ErrorCategory.INVALID)
        storage_class = await ctx.kube.get_or_none("StorageClass", class_name)
        if storage_class is None:
            raise ActionError(f"StorageClass {class_name!r} of {where} not found", category=ErrorCategory.INVALID)
        if storage_class.get("allowVolumeExpansion") is not True:
            raise ActionError(
                f"StorageClass {class_name!r} of {where} does not allow volume expansion (allowVolumeExpansion)",
                category=ErrorCategory.INVALID,
            )
        phase = pvc.get("status", {}).get("phase")
        if phase != "Bound":
            # The API server refuses to resize an unbound claim; say why in plain words.
            raise ActionError(
                f"{where} is {phase or 'not bound'}; only a Bound claim can be expanded", category=ErrorCategory.INVALID
            )

        live_request = pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
        if not live_request:
            raise ActionError(f"{where} has no storage request", category=ErrorCategory.INVALID)

        async def sizes_now() -> dict[str, Any]:
            return {"request": live_request, "capacity": pvc.get("status", {}).get("capacity", {}).get("storage")}

        # Sizes before this call's first attempt: a replay computes the same target, never a second growth.
        before = await ctx.recall("sizes", sizes_now)
        request_text, capacity_text = str(before["request"]), before["capacity"]
        request = _parse_bytes(request_text)
        capacity = _parse_bytes(capacity_text) if capacity_text else request

        if params.factor is None:
            desired = _parse_bytes(str(params.size))  # the model guarantees exactly one of size and factor
        else:
            desired = int(round_up(capacity * Fraction(str(params.factor)), Fraction(_MI)))
        if desired < request:
            raise ActionError(
                f"{where} requests {request_text}; {_format_bytes(desired)} would shrink it, which is never done",
                category=ErrorCategory.INVALID,
            )
        if cap < request:
            raise ActionError(
                f"{where} already requests {request_text}, more than the cap {params.cap}",
                category=ErrorCategory.INVALID,
            )
        target = min(desired, cap)
        output: dict[str, Any] = {
            "namespace": params.namespace,
            "name": params.name,
            "storageClass": class_name,
            "previous": request_text,
            "capacity": capacity_text,
            "size": _format_bytes(target) if target != request else request_text,
            "capped": desired > cap,
        }
        capped = f", capped at {params.cap}" if desired > cap else ""
        if target == request:
            suffix = f" (the cap {params.cap})" if desired > cap else ""
            return ActionResult(
                changed=False, message=f"{where} already requests {request_text}{suffix}", output=output
            )
        if _parse_bytes(live_request) == target:  # written by an earlier attempt of this call
            return ActionResult(
                changed=True, message=f"expanded {where} from {request_text} to {output['size']}{capped}", output=output
            )
        # resourceVersion in the merge patch makes it a compare-and-swap on the
        # request read above; a concurrent writer gives 409 and a fresh read.
        patch = {
            "metadata": {"resourceVersion": pvc["metadata"]["resourceVersion"]},
            "spec": {"resources": {"requests": {"storage": output["size"]}}},
        }
        await ctx.kube.patch("PersistentVolumeClaim", params.name, patch, params.namespace, dry_run=ctx.dry_run)
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"expand {where} from {request_text} to {output['size']}{capped}"),
            output=output,
        )

    return await retry_on_conflict(attempt)


ACTIONS: list[ActionSpec[Any]] = [expand_pvc]
