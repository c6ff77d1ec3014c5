"""The run's GitOps safety rule: no change that Argo CD or Flux would revert, unless the template says how.

Looks at the target and its owners (controller ownerReferences, upwards) with
:mod:`suture.gitops`. With ``safety.gitops: refuse`` (the default) a managed
target refuses the run (``GitOpsManaged``, naming object, tool and mark);
``suspend`` returns the Applications/Kustomizations/HelmReleases the engine
pauses for the run (refused with ``GitOpsCannotSuspend`` when only
managedFields tell, since nothing names what to pause); ``ignore`` acts anyway.
A template whose actions only read changes nothing to revert and passes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from suture.actions import Registry, Risk
from suture.api import AnyTemplate
from suture.errors import RunRefused, SutureError
from suture.gitops import GitOpsSettings, describe, detect_all
from suture.kube import KubeClient

logger = logging.getLogger("suture.runs")
MAX_OWNERS = 5  # as far up as target resolution walks


async def owner_chain(kube: KubeClient, target: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``target`` and the objects that control it, upwards (a Pod, its ReplicaSet, its Deployment).

    An owner that cannot be read (gone, a kind this operator may not read)
    ends the chain: what was read is judged.
    """
    chain = [target]
    current = target
    for _ in range(MAX_OWNERS):
        meta = current.get("metadata") or {}
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")]
        if not owners:
            break
        ref = owners[0]
        try:
            parent = await kube.get_or_none(
                str(ref.get("kind", "")),
                str(ref.get("name", "")),
                meta.get("namespace"),
                api_version=str(ref.get("apiVersion", "")) or None,
            )
        except SutureError as exc:
            logger.info(
                "owner %s/%s of %s not read (%s): GitOps marks above it are not seen",
                ref.get("kind"),
                ref.get("name"),
                meta.get("name"),
                exc,
            )
            break
        if parent is None:
            break
        parent.setdefault("kind", ref.get("kind"))
        parent.setdefault("apiVersion", ref.get("apiVersion"))
        chain.append(parent)
        current = parent
    return chain


def writes(template: AnyTemplate, registry: Registry | None) -> bool:
    """True when a step of ``template`` may change something (an action that is not read-only, or a subflow)."""
    for step in template.spec.steps:
        if step.subflow is not None:
            return True
        for call in (step.action, step.rollout.action if step.rollout else None):
            if call is None:
                continue
            spec = registry.get(call.name) if registry is not None and call.name in registry else None
            if spec is None or spec.risk != Risk.READ_ONLY:
                return True
    return False


async def check_gitops(
    kube: KubeClient,
    *,
    template: AnyTemplate,
    target: Mapping[str, Any] | None,
    registry: Registry | None,
    settings: GitOpsSettings | None,
) -> tuple[dict[str, str], ...]:
    """The controllers to pause for the run (empty unless ``gitops: suspend``); RunRefused when it may not act."""
    mode = template.spec.safety.gitops
    if target is None or mode == "ignore" or not writes(template, registry):
        return ()
    found = detect_all(await owner_chain(kube, target), settings=settings)
    if not found:
        return ()
    name = str(template.metadata.get("name", ""))
    if mode == "refuse":
        raise RunRefused(
            "GitOpsManaged",
            f"{describe(found)}: the controller would revert this change; template {name!r} declares neither "
            "safety.gitops: suspend nor ignore",
        )
    unnamed = [m for m in found if m.controller is None]
    if unnamed:
        raise RunRefused(
            "GitOpsCannotSuspend",
            f"{describe(unnamed)}: no label or tracking id names the object to suspend; use safety.gitops: ignore "
            "or pause it by hand",
        )
    refs: dict[str, dict[str, str]] = {}
    for managed in found:
        assert managed.controller is not None
        refs.setdefault(managed.controller.display(), managed.controller.ref())
    return tuple(refs.values())
