"""Writing one status condition of an object without clobbering the others' writers.

A merge patch replaces a list whole, so a writer that patches
``status.conditions`` from its own copy of the object drops every condition
another writer added since that copy was read. Every writer of a condition goes
through :func:`write_condition`: it reads the object fresh, replaces only its
own condition type, and makes the patch a compare-and-swap on the
resourceVersion, reading again when another writer got there first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from suture.errors import ApiError
from suture.kube.client import KubeClient

ATTEMPTS = 3  # compare-and-swap attempts before the conflict is the caller's
logger = logging.getLogger("suture.kube")

#: What a writer puts from the fresh object: its condition (a Kubernetes-style dict) and any other status
#: fields it owns, or None to write nothing.
Build = Callable[[Mapping[str, Any]], "tuple[dict[str, Any], dict[str, Any]] | None"]


def merge_condition(conditions: list[Any], condition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``conditions`` with ``condition`` in place of its type (appended when new), the others kept as they are.

    The condition keeps the old lastTransitionTime while its status does not
    change, as the Kubernetes condition convention asks.
    """
    kept = [c for c in conditions if isinstance(c, dict)]
    new = dict(condition)
    old = next((c for c in kept if c.get("type") == new.get("type")), None)
    if old is not None and old.get("status") == new.get("status") and old.get("lastTransitionTime"):
        new["lastTransitionTime"] = old["lastTransitionTime"]
    if old is None:
        return [*kept, new]
    return [new if c is old else c for c in kept]


async def write_condition(
    kube: KubeClient, kind: str, name: str, namespace: str | None, *, api_version: str, build: Build
) -> dict[str, Any] | None:
    """Put ``build``'s condition (and status fields) on the object's status; the condition as written.

    None when the object is gone (or ``build`` wants nothing written). Nothing
    is written when the status would not change. Other API errors, and a
    conflict on the last attempt, raise.
    """
    for attempt in range(ATTEMPTS):
        current = await kube.get_or_none(kind, name, namespace, api_version=api_version)
        if current is None:
            return None
        built = build(current)
        if built is None:
            return None
        condition, fields = built
        status = current.get("status") or {}
        conditions = merge_condition(list(status.get("conditions") or []), condition)
        written = next(c for c in conditions if c.get("type") == condition.get("type"))
        if conditions == status.get("conditions") and all(status.get(k) == v for k, v in fields.items()):
            return written
        patch = {
            "metadata": {"resourceVersion": (current.get("metadata") or {}).get("resourceVersion")},
            "status": {**fields, "conditions": conditions},
        }
        try:
            await kube.patch(kind, name, patch, namespace, subresource="status", api_version=api_version)
            return written
        except ApiError as exc:
            if exc.not_found:
                return None
            if not exc.conflict or attempt == ATTEMPTS - 1:
                raise
            logger.debug(
                "%s %s changed while its %s condition was written; reading it again", kind, name, written.get("type")
            )
    return None  # not reached: the last attempt returns or raises
