"""Diagnostics: collect an object's state, owner chain, events and logs."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from suture.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ApiError,
    ErrorCategory,
    InvalidReference,
    LabelSelector,
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
from suture_actions.jobs import REMEDIATION_ANNOTATION, owner_references

MANAGED_BY = {"app.kubernetes.io/managed-by": "suture"}
TARGET_ANNOTATION = "suture.dev/target"
BUNDLE_KEY = "bundle.json"
MAX_OWNERS = 8  # a Pod's chain is at most Pod <- ReplicaSet <- Deployment; deeper means a loop or an operator stack
MAX_PODS = 5  # of a workload: enough to see the pattern, few enough for the log calls
MAX_EVENTS = 50  # per object, newest kept


class DiagnosticsParams(NamespacedTarget):
    """The object to diagnose; its namespace also holds the bundle's ConfigMap."""

    kind: str = Field(default="Pod", min_length=1, description="Kind of the object; a workload's pods are included.")
    api_version: str | None = Field(default=None, description="apiVersion; needed only for kinds Suture does not know.")
    tail_lines: int = Field(default=50, ge=1, le=5000, description="Log lines per container.")
    max_bytes: int = Field(
        default=262144, ge=4096, le=1000000, description="Largest bundle stored (a ConfigMap holds at most 1 MiB)."
    )
    include: dict[str, Any] = Field(
        default_factory=dict,
        max_length=20,
        description="Outputs of earlier steps to keep in the bundle under 'included', by a name of your choice, "
        "e.g. {latency: '${{ steps.measure.output }}'} for a query_prometheus step.",
    )


def _clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without managedFields: server bookkeeping that would dominate the bundle."""
    out = copy.deepcopy(dict(obj))
    out.get("metadata", {}).pop("managedFields", None)
    return out


def _ref(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


def _selector(obj: Mapping[str, Any]) -> str | None:
    """The label selector of a workload (LabelSelector) or Service (plain map) as a query string.

    The text comes from :class:`LabelSelector`, the one place selectors become
    query strings; None when the object selects nothing or its selector is
    not one Kubernetes would accept.
    """
    sel = obj.get("spec", {}).get("selector")
    if not isinstance(sel, dict) or not sel:
        return None
    if not set(sel) <= {"matchLabels", "matchExpressions"}:
        sel = {"matchLabels": sel}  # a Service's selector is a bare map
    try:
        return LabelSelector.model_validate(sel).to_query() or None
    except ValidationError:
        return None


def _containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Container statuses in short form: readiness, restarts, current and last state."""
    status = pod.get("status", {})
    out = []
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for cs in status.get(key) or []:
            out.append(
                {
                    "pod": pod["metadata"]["name"],
                    "name": cs.get("name"),
                    "init": init,
                    "image": cs.get("image"),
                    "ready": cs.get("ready"),
                    "restartCount": cs.get("restartCount", 0),
                    "state": cs.get("state", {}),
                    "lastState": cs.get("lastState", {}),
                }
            )
    return out


def _event(ev: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": ev.get("type"),
        "reason": ev.get("reason"),
        "message": ev.get("message"),
        "count": ev.get("count") or ev.get("series", {}).get("count") or 1,
        "firstTimestamp": ev.get("firstTimestamp") or ev.get("eventTime"),
        "lastTimestamp": ev.get("lastTimestamp") or ev.get("series", {}).get("lastObservedTime") or ev.get("eventTime"),
        "source": ev.get("source", {}).get("component") or ev.get("reportingComponent"),
    }


def _error(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.reason}: {exc.message}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


async def _owner_chain(ctx: ActionContext, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The controlling owners from the object up to the top, each fetched; failures recorded, not raised."""
    chain: list[dict[str, Any]] = []
    current: Mapping[str, Any] = obj
    namespace = obj["metadata"].get("namespace")
    seen = {obj["metadata"].get("uid")}
    for _ in range(MAX_OWNERS):
        refs = current.get("metadata", {}).get("ownerReferences") or []
        if not refs:
            break
        ref = next((r for r in refs if r.get("controller")), refs[0])
        entry: dict[str, Any] = {k: ref.get(k) for k in ("apiVersion", "kind", "name", "uid")}
        chain.append(entry)
        if ref.get("uid") in seen:
            entry["error"] = "ownership loop"
            break
        seen.add(ref.get("uid"))
        if ref.get("kind") == "Secret":
            entry["error"] = "Secrets are never read"
            break
        try:
            info = await ctx.kube.resolve(ref["kind"], ref.get("apiVersion"))
            if info.plural.lower() == "secrets" or ctx.namespace_refusal(namespace if info.namespaced else None):
                entry["error"] = "outside what this template may read"
                break
            owner = await ctx.kube.get(
                ref["kind"], ref["name"], namespace if info.namespaced else None, api_version=ref.get("apiVersion")
            )
        except ApiError as exc:  # InvalidReference and UnknownKind are ApiErrors too
            entry["error"] = _error(exc)
            break
        if owner["metadata"].get("uid") != ref.get("uid"):
            entry["error"] = "the owner was replaced by a different object of the same name"
            break
        entry["object"] = _clean(owner)
        current = owner
    return chain


async def _events(ctx: ActionContext, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    selector = f"involvedObject.name={meta['name']},involvedObject.uid={meta['uid']}"
    if namespace:
        selector += f",involvedObject.namespace={namespace}"
    # Events about a cluster-scoped object land in whichever namespace the reporter chose: search them all.
    items = await ctx.kube.list("Event", namespace, field_selector=selector)
    events = sorted((_event(e) for e in items), key=lambda e: (str(e["lastTimestamp"] or ""), str(e["reason"])))
    return [{"object": _ref(obj), **e} for e in events[-MAX_EVENTS:]]


async def _logs(ctx: ActionContext, pod: Mapping[str, Any], tail_lines: int) -> list[dict[str, Any]]:
    """Recent logs of every container (and the previous instance of restarted ones); failures recorded."""
    name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
    restarts = {c["name"]: c["restartCount"] for c in _containers(pod)}
    spec = pod.get("spec", {})
    out = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        cname = container["name"]
        for previous in (False, True) if restarts.get(cname) else (False,):
            entry: dict[str, Any] = {"pod": name, "container": cname, "previous": previous}
            try:
                # pod_logs has no 'previous'; the crashed instance's log is what explains a crash loop.
                entry["text"] = await ctx.kube.request(
                    "GET",
                    f"/api/v1/namespaces/{namespace}/pods/{name}/log",
                    query={"container": cname, "tailLines": tail_lines, "previous": "true" if previous else None},
                    raw=True,
                    timeout=15.0,
                )
            except Exception as exc:  # any failure to read a log is recorded: logs are a bonus, not the goal
                entry["error"] = _error(exc)
            out.append(entry)
    return out


def _size(bundle: Mapping[str, Any]) -> int:
    return len(_dump(bundle).encode())


def _dump(bundle: Mapping[str, Any]) -> str:
    # Sorted keys and no timestamps of our own: the same state gives the same bytes, so a repeat writes nothing.
    return json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _fit(bundle: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Shrink the bundle below max_bytes, least valuable first, keeping it valid JSON."""
    truncated: list[str] = []

    def fits() -> bool:
        bundle["truncated"] = truncated
        return _size(bundle) <= max_bytes

    if fits():
        return bundle
    # 1. Long annotation values (last-applied-configuration, mostly) repeat the spec and explain little.
    truncated.append("annotations")
    for obj in [bundle["object"], *(o.get("object", {}) for o in bundle["owners"])]:
        annotations = obj.get("metadata", {}).get("annotations") or {}
        for key, value in annotations.items():
            if len(value) > 256:
                annotations[key] = f"{value[:200]}… ({len(value)} characters)"
    if fits():
        return bundle
    # 2. Halve the log texts, keeping their ends (the newest lines), down to a few hundred characters.
    truncated.append("logs")
    while not fits() and any(len(entry.get("text", "")) > 256 for entry in bundle["logs"]):
        for entry in bundle["logs"]:
            text = entry.get("text", "")
            if len(text) > 256:
                entry["text"] = "…" + text[-(len(text) // 2) :]
    if fits():
        return bundle
    # 3. Owners by reference only.
    truncated.append("owners")
    for entry in bundle["owners"]:
        entry.pop("object", None)
    if fits():
        return bundle
    # 4. Fewer events, newest kept.
    truncated.append("events")
    bundle["events"] = bundle["events"][-20:]
    for event in bundle["events"]:
        event["message"] = (event.get("message") or "")[:300]
    if fits():
        return bundle
    # 5. The object without its spec, then without logs at all.
    truncated.append("object.spec")
    bundle["object"].pop("spec", None)
    bundle["logs"] = [{k: v for k, v in e.items() if k != "text"} for e in bundle["logs"]]
    if fits():
        return bundle
    truncated.append("everything")
    return {"target": bundle["target"], "summary": bundle["summary"], "truncated": truncated}


def configmap_name(remediation: str, target: Mapping[str, Any]) -> str:
    """``suture-diag-<hash>``: one ConfigMap per Remediation and target, rewritten by a repeat."""
    key = json.dumps({"remediation": remediation, "target": target}, sort_keys=True)
    return f"suture-diag-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _summary(obj: Mapping[str, Any], containers: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    status = obj.get("status", {})
    reasons: Counter[str] = Counter()
    for event in events:
        reasons[str(event["reason"])] += int(event["count"])
    return {
        "phase": status.get("phase"),
        "conditions": {str(c.get("type")): c.get("status") for c in status.get("conditions") or []},
        "restarts": {f"{c['pod']}/{c['name']}": c["restartCount"] for c in containers},
        "eventReasons": dict(sorted(reasons.items())),
    }


@action(
    name="collect_diagnostics",
    family="diagnostics",
    params=DiagnosticsParams,
    risk=Risk.READ_ONLY,
    rbac=(
        RbacRule("", ("pods", "services", "persistentvolumeclaims", "nodes"), ("get",)),
        RbacRule("", ("pods",), ("list",)),
        RbacRule("", ("pods/log",), ("get",)),
        RbacRule("", ("events",), ("list",)),
        RbacRule("", ("configmaps",), ("get", "create", "update")),
        RbacRule("apps", ("deployments", "replicasets", "statefulsets", "daemonsets"), ("get",)),
        RbacRule("batch", ("jobs", "cronjobs"), ("get",)),
    ),
)
async def collect_diagnostics(ctx: ActionContext, params: DiagnosticsParams) -> ActionResult:
    """Gather an object, its owner chain, its events, container statuses and recent logs into a ConfigMap.

    Read-only towards the cluster: the only thing it writes is its own bundle
    ConfigMap (``suture-diag-<hash>``, labelled app.kubernetes.io/managed-by=
    suture, owned by the Remediation when in its namespace) in the target's
    namespace. For a workload or Service the bundle covers up to five of its
    pods, unhealthy ones first. Logs that the API cannot serve are recorded as
    errors. Secrets are refused and never read. The output is a short summary
    naming the ConfigMap.
    """
    act = "collect_diagnostics"
    check_namespace(ctx, params.namespace, act)  # where the bundle is written
    try:
        info = await ctx.kube.resolve(params.kind, params.api_version)  # discovery for kinds outside the table
    except (InvalidReference, UnknownKind) as exc:
        raise ActionError(str(exc), category=ErrorCategory.INVALID) from None
    refuse_secrets(info, act)
    obj_ns = params.namespace if info.namespaced else None
    check_namespace(ctx, obj_ns, act)  # a cluster-scoped object is outside a namespaced template
    obj = await get_required(ctx, params.kind, params.name, obj_ns, act, api_version=info.api_version)
    target = {"apiVersion": info.api_version, "kind": params.kind, "namespace": obj_ns, "name": params.name}

    pods: list[dict[str, Any]] = []
    problems: list[str] = []
    if params.kind == "Pod":
        pods = [obj]
    elif info.namespaced and (selector := _selector(obj)):
        try:
            # List items carry no kind of their own; put it back for the references in the bundle.
            listed = await ctx.kube.list("Pod", params.namespace, label_selector=selector)
            found = [{"apiVersion": "v1", "kind": "Pod", **p} for p in listed]
        except ApiError as exc:
            problems.append(f"listing pods: {_error(exc)}")
            found = []

        def health(pod: Mapping[str, Any]) -> tuple[bool, int, str]:
            cs = _containers(pod)
            return (all(c["ready"] for c in cs) and bool(cs), -sum(c["restartCount"] for c in cs), _ref(pod))

        pods = sorted(found, key=health)[:MAX_PODS]

    owners = await _owner_chain(ctx, obj)
    events: list[dict[str, Any]] = []
    for subject in [obj, *(p for p in pods if p is not obj)]:
        try:
            events += await _events(ctx, subject)
        except ApiError as exc:
            problems.append(f"events of {_ref(subject)}: {_error(exc)}")
    containers = [c for pod in pods for c in _containers(pod)]
    logs = [entry for pod in pods for entry in await _logs(ctx, pod, params.tail_lines)]
    summary = _summary(obj, containers, events)
    bundle = _fit(
        {
            "target": target,
            "summary": summary,
            "object": _clean(obj),
            "owners": owners,
            "pods": [_ref(p) for p in pods],
            "containers": containers,
            "events": events,
            "logs": logs,
            "problems": problems,
            "included": params.include,
        },
        params.max_bytes,
    )
    text = _dump(bundle)

    name = configmap_name(ctx.remediation, target)
    where = f"ConfigMap {params.namespace}/{name}"
    annotations = {TARGET_ANNOTATION: f"{params.kind} {obj_ns + '/' if obj_ns else ''}{params.name}"}
    if ctx.remediation:
        annotations[REMEDIATION_ANNOTATION] = ctx.remediation
    output = {
        "configMap": name,
        "kind": params.kind,
        "namespace": obj_ns,
        "name": params.name,
        **summary,
        "owners": [f"{o['kind']}/{o['name']}" for o in owners],
        "logs": {"collected": sum("text" in e for e in logs), "failed": sum("error" in e for e in logs)},
        "bytes": len(text.encode()),
        "truncated": bool(bundle.get("truncated")),
    }

    async def write() -> bool:
        existing = await ctx.kube.get_or_none("ConfigMap", name, params.namespace)
        if existing is not None and existing.get("data") == {BUNDLE_KEY: text}:
            return False
        if existing is None:
            metadata: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY), "annotations": annotations}
            if refs := owner_references(ctx, params.namespace):
                metadata["ownerReferences"] = refs
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {BUNDLE_KEY: text}}
            await ctx.kube.create("ConfigMap", body, params.namespace, dry_run=ctx.dry_run)
        else:
            replacement = {**_clean(existing), "data": {BUNDLE_KEY: text}}
            # resourceVersion from the read above: a concurrent writer gives 409 and a fresh read.
            await ctx.kube.replace("ConfigMap", name, replacement, params.namespace, dry_run=ctx.dry_run)
        return True

    wrote = await retry_on_conflict(write)
    if not wrote:
        message = f"diagnostics of {_ref(obj)} unchanged in {where}"
    else:
        message = would(ctx, f"store diagnostics of {_ref(obj)} ({output['bytes']} bytes) in {where}")
    return ActionResult(changed=wrote and not ctx.dry_run, message=message, output=output)


ACTIONS: list[ActionSpec[Any]] = [collect_diagnostics]
