"""Helpers every built-in action shares: parameter bases, retries, messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import Field

from suture.actions import ActionContext, ActionError, ActionParams, ApiError, ErrorCategory, ResourceInfo

T = TypeVar("T")
NAME_PATTERN = r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"


class NamespacedTarget(ActionParams):
    """An object in a namespace; both default from the run's resolved target."""

    namespace: str = Field(pattern=NAME_PATTERN, max_length=63, description="Namespace of the object.")
    name: str = Field(pattern=NAME_PATTERN, max_length=253, description="Name of the object.")


def check_namespace(ctx: ActionContext, namespace: str | None, action: str) -> None:
    """Refuse to act where the calling template may not: outside a namespaced template's namespace,
    on a cluster-scoped object from one (``namespace`` None), or in a namespace its safety rules deny."""
    reason = ctx.namespace_refusal(namespace)
    if reason is not None:
        raise ActionError(reason, category=ErrorCategory.FORBIDDEN, action=action)


def refuse_secrets(info: ResourceInfo, action: str) -> None:
    """Refuse core Secrets, judged by the resource the kind resolves to (any spelling), never read into a run."""
    if info.api_version == "v1" and info.plural.lower() == "secrets":
        raise ActionError(
            f"{action} never reads Secrets: their data would be stored in the run's history",
            category=ErrorCategory.FORBIDDEN,
            action=action,
        )


async def original(ctx: ActionContext, name: str, current: Any) -> Any:
    """The value ``name`` had before this call's first attempt; ``current`` (recorded now) on the first.

    A replay after a crash or a lost reply thereby undoes to, and computes
    from, the state before the run touched it, not the state it left.
    """

    async def read() -> dict[str, Any]:
        return {"value": current}

    recalled: dict[str, Any] = await ctx.recall(name, read)
    return recalled["value"]


async def get_required(
    ctx: ActionContext,
    kind: str,
    name: str,
    namespace: str | None,
    action: str,
    api_version: str | None = None,
) -> Any:
    """GET an object; a missing one is a clear not-found step failure."""
    obj = await ctx.kube.get_or_none(kind, name, namespace, api_version=api_version)
    if obj is None:
        where = f" in namespace {namespace!r}" if namespace else ""
        raise ActionError(f"{kind} {name!r}{where} not found", category=ErrorCategory.NOT_FOUND, action=action)
    return obj


def gone(exc: ApiError) -> bool:
    """404, or 409 from a UID precondition: the incarnation a delete meant no longer exists."""
    return exc.status in (404, 409)


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ownerReference of an object's controller (its ReplicaSet, Job, ...), or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


async def retry_on_conflict(fn: Callable[[], Awaitable[T]], *, attempts: int = 5) -> T:
    """Run a read-modify-write ``fn``; on 409 Conflict read again and retry."""
    for attempt in range(attempts):
        try:
            return await fn()
        except ApiError as exc:
            if not exc.conflict or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * (2**attempt))
    raise AssertionError("unreachable")


def would(ctx: ActionContext, text: str) -> str:
    """Prefix a message with 'would' under dry-run: 'scaled' -> 'would scale'."""
    return f"dry-run: would {text}" if ctx.dry_run else text
