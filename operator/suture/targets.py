"""Finding the object a run acts on, from a template's ``target`` and an alert.

The name and namespace are literals or ``${{ }}`` lookups into the alert; an
``owner`` walks up from there: a Pod's ReplicaSet's Deployment, a Job's
CronJob, or the Node a Pod runs on. The result pins the object's UID so every
step acts on exactly the object that was resolved.

Failures are :class:`~suture.errors.TargetError`s whose class says why:
TargetNotFound, InvalidTarget (a name that is no name, a Pod without a Node),
TargetForbidden (outside the template's namespace), TargetChanged (an owner
replaced while walking the chain; resolving again can succeed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suture.api import CLUSTER_SCOPED_KINDS, TARGET_KINDS, ObjectRef, TargetSpec
from suture.errors import (
    ExpressionError,
    InvalidReference,
    InvalidTarget,
    TargetChanged,
    TargetError,
    TargetForbidden,
    TargetNotFound,
)
from suture.expr import resolve_value
from suture.kube import KubeClient

__all__ = ["MAX_OWNER_DEPTH", "ResolvedTarget", "TargetError", "resolve_target"]

MAX_OWNER_DEPTH = 5  # Pod -> ReplicaSet -> Deployment is 2; leave room for operators' own chains


@dataclass(frozen=True)
class ResolvedTarget:
    """The object a run acts on, and the chain that led to it."""

    ref: ObjectRef
    object: dict[str, Any]
    chain: tuple[str, ...]  # e.g. ("Pod/shop/web-1-abc", "ReplicaSet/shop/web-1", "Deployment/shop/web")


def _text(value: str | None, context: Mapping[str, Any], field: str) -> str | None:
    if value is None:
        return None
    try:
        resolved = resolve_value(value, context)
    except ExpressionError as exc:
        raise InvalidTarget(f"target.{field}: {exc}") from None
    if not isinstance(resolved, str) or not resolved:
        raise InvalidTarget(f"target.{field}: resolved to {resolved!r}, expected a non-empty name")
    return resolved


def _ref(obj: Mapping[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(
        api_version=str(obj.get("apiVersion", "")),
        kind=str(obj.get("kind", "")),
        namespace=meta.get("namespace"),
        name=str(meta.get("name", "")),
        uid=meta.get("uid"),
    )


async def _fetch(kube: KubeClient, kind: str, name: str, namespace: str | None) -> dict[str, Any]:
    api_version = TARGET_KINDS.get(kind)
    where = f" in namespace {namespace!r}" if namespace else ""
    try:
        obj = await kube.get_or_none(kind, name, namespace, api_version=api_version)
    except InvalidReference as exc:  # alert text that is no object name: nothing to look up
        raise InvalidTarget(f"{kind} {name!r}{where}: {exc.message}") from None
    if obj is None:
        raise TargetNotFound(f"{kind} {name!r}{where} not found")
    result: dict[str, Any] = obj
    result.setdefault("apiVersion", api_version)
    result.setdefault("kind", kind)
    return result


async def _walk_to_owner(kube: KubeClient, start: dict[str, Any], owner_kind: str) -> list[dict[str, Any]]:
    """Objects from ``start`` up to the first owner of ``owner_kind`` (inclusive)."""
    chain = [start]
    current = start
    if owner_kind == "Node":
        node = (current.get("spec") or {}).get("nodeName")
        if current.get("kind") != "Pod" or not node:
            raise InvalidTarget(f"{_ref(current).display()} is not a scheduled Pod, so it has no Node")
        chain.append(await _fetch(kube, "Node", node, None))
        return chain
    for _ in range(MAX_OWNER_DEPTH):
        if current.get("kind") == owner_kind:
            return chain
        owners = [o for o in (current.get("metadata") or {}).get("ownerReferences") or [] if o.get("controller")]
        if not owners:
            break
        ref = owners[0]
        namespace = (current.get("metadata") or {}).get("namespace")
        parent = await _fetch(kube, ref["kind"], ref["name"], namespace)
        if (parent.get("metadata") or {}).get("uid") != ref.get("uid"):
            raise TargetChanged(f"owner {ref['kind']}/{ref['name']} was replaced while resolving; try again")
        chain.append(parent)
        current = parent
    if current.get("kind") != owner_kind:
        path = " -> ".join(_ref(o).display() for o in chain)
        raise TargetNotFound(f"no {owner_kind} owns {_ref(start).display()} (owner chain: {path})")
    return chain


async def resolve_target(
    target: TargetSpec, *, alert: Mapping[str, Any], kube: KubeClient, confine_to: str | None = None
) -> ResolvedTarget:
    """Resolve ``target`` for ``alert`` against the cluster.

    ``confine_to`` is the namespace of a namespaced template: a target outside
    it is refused (TargetForbidden) before anything is read. A name or
    namespace that is not a valid object name is InvalidTarget, a missing
    object or owner TargetNotFound, an owner replaced meanwhile TargetChanged;
    API failures other than 404 propagate as ApiError.
    """
    context = {"alert": dict(alert)}
    name = _text(target.name, context, "name")
    assert name is not None
    namespace = None if target.kind in CLUSTER_SCOPED_KINDS else _text(target.namespace, context, "namespace")
    if target.kind not in CLUSTER_SCOPED_KINDS and namespace is None:
        namespace = confine_to
        if namespace is None:
            raise InvalidTarget(f"target.namespace: a {target.kind} needs a namespace")
    if confine_to is not None:
        if target.kind in CLUSTER_SCOPED_KINDS or target.owner == "Node":
            raise TargetForbidden(f"a namespaced template cannot act on {target.owner or target.kind} objects")
        if namespace != confine_to:
            raise TargetForbidden(f"target namespace {namespace!r} is outside the template's namespace {confine_to!r}")
    start = await _fetch(kube, target.kind, name, namespace)
    chain = await _walk_to_owner(kube, start, target.owner) if target.owner else [start]
    final = chain[-1]
    return ResolvedTarget(ref=_ref(final), object=final, chain=tuple(_ref(o).display() for o in chain))
