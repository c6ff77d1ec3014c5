"""Audit: an object's change history (managedFields, revisions, Events, past Remediations) into a ConfigMap."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import Field

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ApiError,
    ErrorCategory,
    InvalidReference,
    RbacRule,
    Risk,
    UnknownKind,
    action,
)
from suture_actions._common import (
    NamespacedTarget,
    check_namespace,
    get_required,
    refuse_secrets,
    retry_on_conflict,
    would,
)
from suture_actions.jobs import MANAGED_BY, REMEDIATION_ANNOTATION, owner_references

AUDIT_KEY = "audit.json"
REMEDIATION_API = "suture.dev/v1alpha1"
MAX_ITEMS = 30  # per section, newest kept
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


class AuditLogsParams(NamespacedTarget):
    """The object whose history to gather; its namespace also holds the ConfigMap."""

    kind: str = Field(default="Deployment", min_length=1, description="Kind of the object.")
    api_version: str | None = Field(default=None, description="apiVersion; needed only for kinds Suture does not know.")


def _managed_fields(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Who wrote which top-level fields, when: the field managers' record, without the full field sets."""
    out = []
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        fields = entry.get("fieldsV1") or {}
        out.append(
            {
                "manager": entry.get("manager"),
                "operation": entry.get("operation"),
                "subresource": entry.get("subresource"),
                "time": entry.get("time"),
                "fields": sorted(k.removeprefix("f:") for k in fields if k != "."),
            }
        )
    return sorted(out, key=lambda e: str(e["time"] or ""))


def _images(template: Mapping[str, Any]) -> list[str]:
    return [str(c.get("image")) for c in (template.get("spec") or {}).get("containers") or []]


async def _revisions(ctx: ActionContext, obj: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """Rollout history: a Deployment's ReplicaSets, a StatefulSet's or DaemonSet's ControllerRevisions."""
    uid, namespace = obj["metadata"]["uid"], obj["metadata"]["namespace"]
    child = {"Deployment": "ReplicaSet", "StatefulSet": "ControllerRevision", "DaemonSet": "ControllerRevision"}
    if kind not in child:
        return []
    out = []
    for item in await ctx.kube.list(child[kind], namespace):
        if not any(ref.get("uid") == uid for ref in item["metadata"].get("ownerReferences") or []):
            continue
        annotations = item["metadata"].get("annotations") or {}
        entry: dict[str, Any] = {
            "name": item["metadata"]["name"],
            "created": item["metadata"].get("creationTimestamp"),
            "changeCause": annotations.get(CHANGE_CAUSE),
        }
        if child[kind] == "ReplicaSet":
            entry["revision"] = int(annotations.get(REVISION, 0) or 0)
            entry["images"] = _images(item["spec"].get("template") or {})
            entry["replicas"] = item["spec"].get("replicas")
        else:
            entry["revision"] = item.get("revision")
        out.append(entry)
    return sorted(out, key=lambda e: e["revision"])[-MAX_ITEMS:]


async def _events(ctx: ActionContext, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = obj["metadata"]
    selector = f"involvedObject.uid={meta['uid']},involvedObject.name={meta['name']}"
    items = await ctx.kube.list("Event", meta.get("namespace"), field_selector=selector)
    events = [
        {
            "type": e.get("type"),
            "reason": e.get("reason"),
            "message": (e.get("message") or "")[:500],
            "count": e.get("count") or 1,
            "last": e.get("lastTimestamp") or e.get("eventTime"),
            "source": (e.get("source") or {}).get("component") or e.get("reportingComponent"),
        }
        for e in items
    ]
    return sorted(events, key=lambda e: str(e["last"] or ""))[-MAX_ITEMS:]


async def _remediations(ctx: ActionContext, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
    """Suture's own past runs on this object, from the Remediations in its namespace."""
    out = []
    for rem in await ctx.kube.list("Remediation", namespace, api_version=REMEDIATION_API):
        status = rem.get("status") or {}
        target = status.get("target") or (rem.get("spec") or {}).get("target") or {}
        if target.get("kind") != kind or target.get("name") != name:
            continue
        out.append(
            {
                "name": rem["metadata"]["name"],
                "created": rem["metadata"].get("creationTimestamp"),
                "template": ((rem.get("spec") or {}).get("templateRef") or {}).get("name"),
                "phase": status.get("phase"),
                "outcome": (status.get("verification") or {}).get("outcome"),
            }
        )
    return sorted(out, key=lambda e: str(e["created"] or ""))[-MAX_ITEMS:]


def audit_configmap_name(remediation: str, target: Mapping[str, Any]) -> str:
    key = json.dumps({"remediation": remediation, "target": target}, sort_keys=True)
    return f"suture-audit-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


@action(
    name="audit_logs",
    family="diagnostics",
    params=AuditLogsParams,
    risk=Risk.READ_ONLY,
    rbac=(
        RbacRule("apps", ("deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions"), ("get",)),
        RbacRule("apps", ("replicasets", "controllerrevisions"), ("list",)),
        RbacRule("", ("pods", "services", "persistentvolumeclaims", "configmaps"), ("get",)),
        RbacRule("", ("events",), ("list",)),
        RbacRule("suture.dev", ("remediations",), ("list",)),
        RbacRule("", ("configmaps",), ("get", "create", "update")),
    ),
)
async def audit_logs(ctx: ActionContext, params: AuditLogsParams) -> ActionResult:
    """Gather an object's change history into a ConfigMap beside the diagnostics bundles.

    The history is what the API server itself keeps: the field managers that
    wrote the object and when (managedFields, without the field sets'
    details), its rollout revisions (a Deployment's ReplicaSets with images and
    change-cause, a StatefulSet's or DaemonSet's ControllerRevisions), its
    Events, and the Remediations Suture ran on it. Each section keeps its 30
    newest entries; a section the API cannot serve is recorded as a problem,
    not a failure. Secrets are refused. The ConfigMap ``suture-audit-<hash>``
    is one per Remediation and object, rewritten only when the history changed.
    """
    act = "audit_logs"
    check_namespace(ctx, params.namespace, act)
    try:
        info = await ctx.kube.resolve(params.kind, params.api_version)
    except (InvalidReference, UnknownKind) as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID, action=act) from None
    refuse_secrets(info, act)
    if not info.namespaced:
        raise ActionError(
            f"audit_logs covers namespaced objects; {params.kind} is not", category=ErrorCategory.INVALID, action=act
        )
    obj = await get_required(ctx, params.kind, params.name, params.namespace, act, api_version=info.api_version)
    target = {"apiVersion": info.api_version, "kind": params.kind, "namespace": params.namespace, "name": params.name}
    problems: list[str] = []
    sections: dict[str, Any] = {"managedFields": _managed_fields(obj)}
    readers: dict[str, Callable[[], Awaitable[list[dict[str, Any]]]]] = {
        "revisions": lambda: _revisions(ctx, obj, params.kind),
        "events": lambda: _events(ctx, obj),
        "remediations": lambda: _remediations(ctx, params.namespace, params.kind, params.name),
    }
    for section, read in readers.items():
        try:
            sections[section] = await read()
        except ApiError as exc:  # UnknownKind (no Suture CRDs) included
            sections[section] = []
            problems.append(f"{section}: {exc.status} {exc.message}"[:300])
    bundle = {"target": target, "generation": obj["metadata"].get("generation"), **sections, "problems": problems}
    text = json.dumps(bundle, sort_keys=True, separators=(",", ":"))
    name = audit_configmap_name(ctx.remediation, target)
    where = f"ConfigMap {params.namespace}/{name}"

    async def write() -> bool:
        existing = await ctx.kube.get_or_none("ConfigMap", name, params.namespace)
        if existing is not None and existing.get("data") == {AUDIT_KEY: text}:
            return False
        if existing is None:
            annotations = {"suture.dev/target": f"{params.kind} {params.namespace}/{params.name}"}
            if ctx.remediation:
                annotations[REMEDIATION_ANNOTATION] = ctx.remediation
            metadata: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY), "annotations": annotations}
            if refs := owner_references(ctx, params.namespace):
                metadata["ownerReferences"] = refs
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {AUDIT_KEY: text}}
            await ctx.kube.create("ConfigMap", body, params.namespace, dry_run=ctx.dry_run)
        else:
            await ctx.kube.replace(
                "ConfigMap", name, {**existing, "data": {AUDIT_KEY: text}}, params.namespace, dry_run=ctx.dry_run
            )
        return True

    wrote = await retry_on_conflict(write)
    output = {
        "configMap": name,
        **{k: len(v) for k, v in sections.items()},
        "problems": problems,
        "bytes": len(text.encode()),
    }
    message = (
        would(ctx, f"store the change history of {params.kind} {params.namespace}/{params.name} in {where}")
        if wrote
        else f"change history of {params.kind} {params.namespace}/{params.name} unchanged in {where}"
    )
    return ActionResult(changed=wrote and not ctx.dry_run, message=message, output=output)


ACTIONS: list[ActionSpec[Any]] = [audit_logs]
