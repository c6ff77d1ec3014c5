"""Network: apply a NetworkPolicy."""

from __future__ import annotations

import copy
from collections.abc import Mapping
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
from suture_actions._common import NamespacedTarget, check_namespace, retry_on_conflict, would

KIND = "NetworkPolicy"
API_VERSION = "networking.k8s.io/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "suture"}
# Stamped on a policy this action creates, so an undo recorded before the create
# (when the uid is not known yet) deletes only the policy that very call made.
CALL_ANNOTATION = "suture.dev/idempotency-key"


class NetworkPolicyParams(NamespacedTarget):
    """A NetworkPolicy's spec, in the API's own shape."""

    pod_selector: dict[str, Any] = Field(description="LabelSelector of the pods the policy applies to; {} is all.")
    policy_types: list[Literal["Ingress", "Egress"]] = Field(
        min_length=1, max_length=2, description="Which directions the policy restricts: Ingress, Egress or both."
    )
    ingress: list[dict[str, Any]] = Field(default_factory=list, description="Allowed ingress rules (API shape).")
    egress: list[dict[str, Any]] = Field(default_factory=list, description="Allowed egress rules (API shape).")


def _body(existing: Mapping[str, Any] | None, name: str, spec: Mapping[str, Any], labels: Any) -> dict[str, Any]:
    """The object to write: the existing one (for its resourceVersion) with our spec and labels."""
    body: dict[str, Any] = (
        copy.deepcopy(dict(existing)) if existing else {"apiVersion": API_VERSION, "kind": KIND, "metadata": {}}
    )
    meta = body["metadata"]
    meta["name"] = name
    # Leave managedFields out: the server keeps them when the field is absent.
    meta.pop("managedFields", None)
    if labels is None:
        meta.pop("labels", None)
    else:
        meta["labels"] = dict(labels)
    body["spec"] = dict(spec)
    body.pop("status", None)
    return body


def _const(value: dict[str, Any]) -> Any:
    async def read() -> dict[str, Any]:
        return value

    return read


async def _undo(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
    act = "undo apply_network_policy"
    namespace, name = str(data["namespace"]), str(data["name"])
    check_namespace(ctx, namespace, act)
    where = f"NetworkPolicy {namespace}/{name}"
    output = {"namespace": namespace, "name": name}
    if data["created"]:
        uid = data.get("uid")
        if not uid:
            # Recorded before the create: find what that call created, by its key.
            found = await ctx.kube.get_or_none(KIND, name, namespace)
            stamp = ((found or {}).get("metadata") or {}).get("annotations") or {}
            if found is None or stamp.get(CALL_ANNOTATION) != data.get("key"):
                return ActionResult(changed=False, message=f"{where} was never created", output=output)
            uid = found["metadata"]["uid"]
        try:
            # The uid precondition deletes only the policy this action created,
            # never one somebody made again under the same name since.
            await ctx.kube.delete(KIND, name, namespace, uid=str(uid), dry_run=ctx.dry_run)
        except ApiError as exc:
            if exc.not_found:
                return ActionResult(changed=False, message=f"{where} is already gone", output=output)
            if exc.conflict:
                raise ActionError(
                    f"{where} was replaced by a different object since it was created; not deleting it",
                    category=ErrorCategory.CONFLICT,
                    action=act,
                ) from exc
            raise
        return ActionResult(changed=not ctx.dry_run, message=would(ctx, f"delete {where}"), output=output)

    async def attempt() -> ActionResult:
        existing = await ctx.kube.get_or_none(KIND, name, namespace)
        body = _body(existing, name, data["spec"], data["labels"])
        if existing is None:
            # Deleted since: restoring the previous state means recreating it.
            await ctx.kube.create(KIND, body, namespace, dry_run=ctx.dry_run)
            return ActionResult(changed=not ctx.dry_run, message=would(ctx, f"recreate {where}"), output=output)
        if existing["spec"] == data["spec"] and existing["metadata"].get("labels") == data["labels"]:
            return ActionResult(changed=False, message=f"{where} already has its previous spec", output=output)
        await ctx.kube.replace(KIND, name, body, namespace, dry_run=ctx.dry_run)
        return ActionResult(changed=not ctx.dry_run, message=would(ctx, f"restore the spec of {where}"), output=output)

    return await retry_on_conflict(attempt)


@action(
    name="apply_network_policy",
    family="network",
    params=NetworkPolicyParams,
    # High: a wrong policy cuts the selected pods off from their clients or dependencies.
    risk=Risk.HIGH,
    rbac=(RbacRule("networking.k8s.io", ("networkpolicies",), ("get", "create", "update", "delete")),),
    undo=_undo,
    undo_description="deletes the policy if it created it, else restores the previous spec and labels",
)
async def apply_network_policy(ctx: ActionContext, params: NetworkPolicyParams) -> ActionResult:
    """Create or update a NetworkPolicy labelled app.kubernetes.io/managed-by=suture, e.g. to isolate pods.

    Equality is judged on the spec as the API server would store it (a
    server-side dry-run of the update fills in defaults such as port
    protocols), so repeating the call with the same spec writes nothing.
    """
    act = "apply_network_policy"
    check_namespace(ctx, params.namespace, act)
    spec = {
        "podSelector": params.pod_selector,
        "policyTypes": list(params.policy_types),
        "ingress": params.ingress,
        "egress": params.egress,
    }
    where = f"NetworkPolicy {params.namespace}/{params.name}"
    output: dict[str, Any] = {"namespace": params.namespace, "name": params.name}

    async def attempt() -> ActionResult:
        existing = await ctx.kube.get_or_none(KIND, params.name, params.namespace)
        stamp = ((existing or {}).get("metadata") or {}).get("annotations") or {}
        if existing is not None and ctx.idempotency_key and stamp.get(CALL_ANNOTATION) == ctx.idempotency_key:
            # This very call created it before a crash or a lost reply.
            undo = {**output, "created": True, "uid": existing["metadata"]["uid"], "key": ctx.idempotency_key}
            return ActionResult(
                changed=True, message=f"created {where}", output={**output, "operation": "created"}, undo=undo
            )
        if existing is None:
            await ctx.intend({**output, "created": True, "uid": None, "key": ctx.idempotency_key})
            body = _body(None, params.name, spec, MANAGED_BY)
            if ctx.idempotency_key:
                body["metadata"]["annotations"] = {CALL_ANNOTATION: ctx.idempotency_key}
            created = await ctx.kube.create(KIND, body, params.namespace, dry_run=ctx.dry_run)
            return ActionResult(
                changed=not ctx.dry_run,
                message=would(ctx, f"create {where}"),
                output={**output, "operation": "created"},
                # A dry-run created nothing, so there is nothing to undo.
                undo=None if ctx.dry_run else {**output, "created": True, "uid": created["metadata"]["uid"]},
            )
        labels = {**(existing["metadata"].get("labels") or {}), **MANAGED_BY}
        body = _body(existing, params.name, spec, labels)
        # The server's defaulted form of our spec, to compare like with like.
        preview = await ctx.kube.replace(KIND, params.name, body, params.namespace, dry_run=True)
        if preview["spec"] == existing["spec"] and existing["metadata"].get("labels") == labels:
            earlier = await ctx.recorded("policy")
            if earlier is not None:  # replaced by an earlier attempt of this call: keep its undo
                return ActionResult(
                    changed=True,
                    message=f"replaced the spec of {where}",
                    output={**output, "operation": "replaced"},
                    undo=earlier,
                )
            return ActionResult(
                changed=False, message=f"{where} already has this spec", output={**output, "operation": "unchanged"}
            )
        undo = {**output, "created": False, "spec": existing["spec"], "labels": existing["metadata"].get("labels")}
        if not ctx.dry_run:
            # The spec before this call's first attempt: a replay undoes to it, not to its own write.
            undo = await ctx.recall("policy", _const(undo))
            await ctx.intend(undo)
            # body carries the resourceVersion read above: a concurrent writer gives 409 and a fresh read.
            await ctx.kube.replace(KIND, params.name, body, params.namespace)
        return ActionResult(
            changed=not ctx.dry_run,
            message=would(ctx, f"replace the spec of {where}"),
            output={**output, "operation": "replaced"},
            undo=None if ctx.dry_run else undo,
        )

    return await retry_on_conflict(attempt)


ACTIONS: list[ActionSpec[Any]] = [apply_network_policy]
