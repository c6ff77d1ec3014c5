"""Restart the networking pods of one node: the pods of named DaemonSets (CNI, kube-proxy) on it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from suture.actions import (
    ActionContext,
    ActionError,
    ActionParams,
    ActionResult,
    ActionSpec,
    ApiError,
    ErrorCategory,
    RbacRule,
    Risk,
    action,
)
from suture_actions._common import NAME_PATTERN, check_namespace, controller_of, gone, original, would

DEFAULT_DAEMONSETS = ["kube-system/kube-proxy"]


class RestartNetworkParams(ActionParams):
    """A node, and the DaemonSets whose pods on it make up its networking."""

    node: str = Field(pattern=NAME_PATTERN, max_length=253, description="Name of the node.")
    daemon_sets: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DAEMONSETS),
        min_length=1,
        max_length=10,
        description="DaemonSets as namespace/name, e.g. kube-system/kube-proxy, kube-system/calico-node.",
    )

    @field_validator("daemon_sets")
    @classmethod
    def _refs(cls, values: list[str]) -> list[str]:
        for value in values:
            namespace, _, name = value.partition("/")
            if not (re.fullmatch(NAME_PATTERN, namespace) and re.fullmatch(NAME_PATTERN, name)):
                raise ValueError(f"{value!r} is not namespace/name")
        return values


async def _pods_on_node(ctx: ActionContext, ref: str, node: str, act: str) -> list[dict[str, Any]]:
    """The pods that DaemonSet ``ref`` runs on ``node`` (by controller UID, not by labels alone)."""
    namespace, _, name = ref.partition("/")
    daemon_set = await ctx.kube.get_or_none("DaemonSet", name, namespace)
    if daemon_set is None:
        raise ActionError(f"DaemonSet {ref} not found", category=ErrorCategory.NOT_FOUND, action=act)
    uid = daemon_set["metadata"]["uid"]
    pods = await ctx.kube.list("Pod", namespace, field_selector=f"spec.nodeName={node}")
    return [p for p in pods if (controller_of(p) or {}).get("uid") == uid]


@action(
    name="restart_network",
    family="nodes",
    params=RestartNetworkParams,
    # Disruptive: the node's traffic is interrupted while its networking pods start again.
    risk=Risk.DISRUPTIVE,
    rbac=(
        RbacRule("apps", ("daemonsets",), ("get",)),
        RbacRule("", ("pods",), ("list", "delete")),
    ),
)
async def restart_network(ctx: ActionContext, params: RestartNetworkParams) -> ActionResult:
    """Delete the pods that the named DaemonSets run on one node, so that they start again there.

    Only pods controlled by those DaemonSets and scheduled to that node are
    touched; each delete is pinned to the pod's UID. The pods chosen on the
    step's first attempt are recorded, so a replay after a crash deletes none
    of their replacements. Every DaemonSet's namespace must be one the
    template may act in. A DaemonSet with no pod on the node is reported, not
    an error. No undo: a restarted pod cannot be un-restarted.
    """
    act = "restart_network"
    for ref in params.daemon_sets:
        check_namespace(ctx, ref.partition("/")[0], act)
    # The cluster-scoped node is only named in a field selector, never read or changed.
    found: list[dict[str, Any]] = []
    for ref in params.daemon_sets:
        found += [
            {
                "daemonSet": ref,
                "namespace": p["metadata"]["namespace"],
                "name": p["metadata"]["name"],
                "uid": p["metadata"]["uid"],
            }
            for p in await _pods_on_node(ctx, ref, params.node, act)
        ]
    chosen: list[dict[str, Any]] = await original(ctx, "pods", found)
    restarted, gone_already = [], []
    for pod in chosen:
        try:
            await ctx.kube.delete("Pod", pod["name"], pod["namespace"], uid=pod["uid"], dry_run=ctx.dry_run)
            restarted.append(f"{pod['namespace']}/{pod['name']}")
        except ApiError as exc:
            if not gone(exc):
                raise
            gone_already.append(f"{pod['namespace']}/{pod['name']}")
    empty = sorted(set(params.daemon_sets) - {p["daemonSet"] for p in chosen})
    output = {"node": params.node, "restarted": restarted, "alreadyGone": gone_already, "noPodOnNode": empty}
    # Pods this very call deleted before a crash count as its change: the replay reports them as done.
    changed = bool(chosen) and not ctx.dry_run
    names = ", ".join(restarted + gone_already) or "no pods"
    suffix = f"; no pod on the node for {', '.join(empty)}" if empty else ""
    return ActionResult(
        changed=changed, message=would(ctx, f"restart {names} on node {params.node}{suffix}"), output=output
    )


ACTIONS: list[ActionSpec[Any]] = [restart_network]
