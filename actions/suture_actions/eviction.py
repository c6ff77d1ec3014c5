"""Evicting pods through the Eviction API, shared by drain_node and migrate_workload.

Evictions respect PodDisruptionBudgets: a refusal (429) is retried until a
deadline, then reported naming the budget. Every eviction and every wait is
pinned to the pod's UID, so a replacement with the same name is never touched.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suture.actions import ActionContext, ActionError, ApiError, ErrorCategory, RbacRule, parse_duration

_PDB_NAME = re.compile(r"disruption budget (\S+)")


def pod_key(pod: Mapping[str, Any]) -> str:
    """``namespace/name`` of a pod, as outputs and messages name it."""
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


@dataclass
class Blocked:
    """A pod whose eviction the API server kept refusing, and why."""

    pod: str
    reason: str


def _refusal(exc: ApiError, namespace: str) -> str:
    """Why an eviction got 429, naming the PodDisruptionBudget when the server says which."""
    causes = [c.get("message", "") for c in (exc.body.get("details") or {}).get("causes") or []]
    for cause in causes:
        found = _PDB_NAME.search(cause)
        if found:
            return f"PodDisruptionBudget {namespace}/{found[1]} does not allow it: {exc.message} {cause}"
    return " ".join([exc.message, *causes]).strip()


async def _evict(ctx: ActionContext, pod: Mapping[str, Any], deadline: float, grace: int | None) -> Blocked | None:
    """Evict one pod (by UID), retrying 429 refusals until the deadline; a Blocked when they never stop."""
    meta = pod["metadata"]
    options: dict[str, Any] = {"preconditions": {"uid": meta["uid"]}}
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "deleteOptions": options,
    }
    loop = asyncio.get_running_loop()
    while True:
        try:
            await ctx.kube.create(
                "Pod", body, meta["namespace"], subresource_of=meta["name"], subresource="eviction", dry_run=ctx.dry_run
            )
            return None
        except ApiError as exc:
            if exc.status in (404, 409):  # gone, or the UID precondition: this incarnation is gone
                return None
            if exc.status != 429:
                raise
            # A dry run reports the refusal as it stands instead of waiting it out.
            if ctx.dry_run or loop.time() + ctx.poll_interval >= deadline:
                return Blocked(pod_key(pod), _refusal(exc, meta["namespace"]))
        await asyncio.sleep(ctx.poll_interval)


async def _evict_all(
    ctx: ActionContext, pods: list[dict[str, Any]], deadline: float, grace: int | None
) -> list[Blocked]:
    if not pods:
        return []
    tasks = [asyncio.create_task(_evict(ctx, pod, deadline, grace)) for pod in pods]
    # An error other than a refusal ends the call now rather than after the
    # other evictions have waited out their budgets.
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        error = task.exception()
        if error is not None:
            raise error
    return [r for t in tasks if (r := t.result()) is not None]


async def _wait_gone(ctx: ActionContext, pods: list[dict[str, Any]], deadline: float) -> list[str]:
    """Wait until each pod (by UID) is deleted; the keys of those still there at the deadline."""
    loop = asyncio.get_running_loop()
    pending = {pod_key(p): p for p in pods}
    while True:
        for key, pod in list(pending.items()):
            meta = pod["metadata"]
            current = await ctx.kube.get_or_none("Pod", meta["name"], meta["namespace"])
            if current is None or current["metadata"]["uid"] != meta["uid"]:
                del pending[key]
        if not pending or loop.time() >= deadline:
            return sorted(pending)
        await asyncio.sleep(ctx.poll_interval)


async def evict_and_wait(
    ctx: ActionContext,
    pods: list[dict[str, Any]],
    waiting: list[dict[str, Any]],
    *,
    timeout: str,
    grace: int | None,
    what: str,
    epilogue: str = "",
) -> tuple[list[str], list[Blocked]]:
    """Evict ``pods`` and wait until they and ``waiting`` (already terminating) are gone.

    Returns the evicted keys and, in a dry run, the evictions refused right now.
    Raises a TIMEOUT ActionError, starting with ``what`` and ending with
    ``epilogue``, when a refusal outlasts the timeout or a pod does not go.
    """
    deadline = asyncio.get_running_loop().time() + parse_duration(timeout)
    blocked = await _evict_all(ctx, pods, deadline, grace)
    refused = {b.pod for b in blocked}
    evicted = sorted(pod_key(p) for p in pods if pod_key(p) not in refused)
    if ctx.dry_run:
        return evicted, blocked
    if blocked:
        first = blocked[0]
        more = f" (and {len(blocked) - 1} more pods)" if len(blocked) > 1 else ""
        done = f"; evicted {len(evicted)} other pods" if evicted else ""
        raise ActionError(
            f"{what}: could not evict pod {first.pod} within {timeout}{more}: {first.reason}{done}{epilogue}",
            category=ErrorCategory.TIMEOUT,
        )
    left = await _wait_gone(ctx, [*pods, *waiting], deadline)
    if left:
        raise ActionError(
            f"{what}: evicted pods did not terminate within {timeout}: {', '.join(left[:10])}{epilogue}",
            category=ErrorCategory.TIMEOUT,
        )
    return evicted, blocked


EVICT_RBAC = (
    RbacRule("", ("pods",), ("list", "get")),
    RbacRule("", ("pods/eviction",), ("create",)),
)
