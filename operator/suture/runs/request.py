"""Turning a Remediation into a RunRequest, or refusing it with a reason.

Refusals happen before any action runs: an unknown or invalid template, a
target outside what the template may touch, a cooldown or rate limit still in
force (those two rules live in :mod:`suture.runs.safety`, which the
receiver calls too). Each is a :class:`~suture.errors.RunRefused` carrying a CamelCase
reason for the status and the Event; its class is of the reason's category
(TemplateNotFound is not-found, NamespaceDenied forbidden, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from suture.actions import Registry
from suture.api import (
    API_VERSION,
    TARGET_KINDS,
    AnyTemplate,
    ClusterWorkflowTemplate,
    Remediation,
)
from suture.engine import RunRequest
from suture.errors import InvalidReference, RunRefused, TargetError
from suture.gitops import GitOpsSettings
from suture.kube import KubeClient
from suture.runs.gitops import check_gitops
from suture.runs.safety import check_rate, check_target_namespace
from suture.store import History
from suture.targets import resolve_target
from suture.validation import parse_template

__all__ = ["RunRefused", "build_run_request", "check_rate", "load_template"]


async def load_template(kube: KubeClient, remediation: Remediation, namespace: str) -> AnyTemplate:
    """The template a Remediation names, validated; RunRefused when missing or invalid."""
    ref = remediation.spec.template_ref
    cluster = ref.kind == "ClusterWorkflowTemplate"
    try:
        raw = await kube.get_or_none(ref.kind, ref.name, None if cluster else namespace, api_version=API_VERSION)
    except InvalidReference as exc:
        raise RunRefused("InvalidRemediation", f"templateRef: {exc.message}") from None
    if raw is None:
        where = "" if cluster else f" in namespace {namespace!r}"
        raise RunRefused("TemplateNotFound", f"{ref.kind} {ref.name!r}{where} not found")
    verdict = _valid_condition(raw)
    if verdict is not None and verdict.get("status") == "False":
        # The operator's own verdict (with the action registry) for this very generation.
        raise RunRefused("InvalidTemplate", f"{ref.kind} {ref.name!r} is not Valid: {verdict.get('message', '')}")
    template, errors = parse_template(raw, None)
    if template is None or errors:
        listed = "; ".join(f"{p.path}: {p.message}" for p in errors[:3])
        raise RunRefused("InvalidTemplate", f"{ref.kind} {ref.name!r} is invalid: {listed}")
    return template


def _valid_condition(raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The template's Valid condition when it was set for its current generation, else None."""
    generation = (raw.get("metadata") or {}).get("generation")
    for condition in (raw.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Valid" and condition.get("observedGeneration") == generation:
            found: Mapping[str, Any] = condition
            return found
    return None


def _target_kind(template: AnyTemplate) -> str | None:
    """The kind a template acts on: its target's owner when it walks up to one, else its target's kind."""
    target = template.spec.target
    if target is None:
        return None
    return target.owner or target.kind


def check_remediation_fits(
    template: AnyTemplate, remediation: Remediation, *, namespace: str, home: str | None
) -> None:
    """Refuse a Remediation that asks more of its template than the template allows."""
    name = str(template.metadata.get("name", ""))
    if isinstance(template, ClusterWorkflowTemplate):
        allowed = set(template.spec.allowed_remediation_namespaces) | ({home} if home else set())
        if namespace not in allowed:
            raise RunRefused(
                "NamespaceDenied",
                f"ClusterWorkflowTemplate {name!r} may not be run from namespace {namespace!r} "
                f"(spec.allowedRemediationNamespaces: {sorted(allowed) or 'none'})",
            )
    supplied = remediation.spec.target
    if supplied is not None and _target_kind(template) not in (None, supplied.kind):
        declared = _target_kind(template) or "no target"
        raise RunRefused(
            "TargetKindMismatch", f"the Remediation's target is a {supplied.kind}; template {name!r} acts on {declared}"
        )
    locked = sorted(set(remediation.spec.variables) & set(template.spec.safety.locked_variables))
    if locked:
        raise RunRefused("LockedVariable", f"template {name!r} does not let a Remediation override {', '.join(locked)}")


async def _explicit_target(kube: KubeClient, remediation: Remediation) -> dict[str, Any]:
    ref = remediation.spec.target
    assert ref is not None
    try:
        obj = await kube.get_or_none(ref.kind, ref.name, ref.namespace, api_version=ref.api_version)
    except InvalidReference as exc:
        raise RunRefused("InvalidRemediation", f"target: {exc.message}") from None
    if obj is None:
        raise RunRefused("TargetNotFound", f"{ref.display()} not found")
    if ref.uid and obj["metadata"].get("uid") != ref.uid:
        raise RunRefused("TargetReplaced", f"{ref.display()} was replaced since the alert (uid changed)")
    result: dict[str, Any] = obj
    return result


async def build_run_request(
    body: Mapping[str, Any],
    *,
    kube: KubeClient,
    history: History,
    registry: Registry | None = None,
    now: datetime | None = None,
    home_namespace: str | None = None,
    gitops: GitOpsSettings | None = None,
) -> tuple[RunRequest, AnyTemplate]:
    """The engine request for a Remediation, and its template; RunRefused says why not.

    ``home_namespace`` is the operator's own namespace, where its receiver
    creates Remediations: ClusterWorkflowTemplates run from there by default.
    ``gitops`` says how Argo CD tracks objects (see :mod:`suture.gitops`).
    ``history`` is where started runs are counted for the cooldown and the
    hourly budget (the caller records the run's start there once accepted).
    """
    meta = body.get("metadata") or {}
    namespace, name, uid = str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", ""))
    try:
        remediation = Remediation.model_validate(dict(body))
    except ValidationError as exc:
        raise RunRefused("InvalidRemediation", str(exc).splitlines()[0]) from None
    template = await load_template(kube, remediation, namespace)
    check_remediation_fits(template, remediation, namespace=namespace, home=home_namespace)
    confine = None if isinstance(template, ClusterWorkflowTemplate) else namespace
    alert = remediation.spec.alert
    alert_ctx = {
        "name": alert.name or alert.labels.get("alertname", ""),
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "fingerprint": alert.fingerprint,
        "startsAt": alert.starts_at,
    }
    target: dict[str, Any] | None = None
    if remediation.spec.target is not None:
        target = await _explicit_target(kube, remediation)
    elif template.spec.target is not None:
        try:
            target = (await resolve_target(template.spec.target, alert=alert_ctx, kube=kube, confine_to=confine)).object
        except TargetError as exc:
            raise RunRefused("TargetUnresolved", str(exc)) from None
    if target is not None:
        target_ns = (target.get("metadata") or {}).get("namespace")
        check_target_namespace(template.spec.safety, target_namespace=target_ns, confine=confine)
        target.setdefault("apiVersion", TARGET_KINDS.get(str(target.get("kind")), ""))
    await check_rate(
        history,
        template=str(template.metadata.get("name", remediation.spec.template_ref.name)),
        safety=template.spec.safety,
        scope=confine,
        target_uid=((target or {}).get("metadata") or {}).get("uid"),
        now=now or datetime.now(UTC),
        exclude_uid=uid,
    )
    paused = await check_gitops(kube, template=template, target=target, registry=registry, settings=gitops)
    owner = {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "name": name,
        "uid": uid,
        "blockOwnerDeletion": False,
        "controller": False,
    }
    request = RunRequest(
        run_id=uid,
        template=template.spec,
        alert=alert_ctx,
        target=target,
        variables=dict(remediation.spec.variables),
        dry_run=remediation.spec.dry_run,
        namespace=confine,
        remediation=f"{namespace}/{name}",
        owner=owner,
        gitops=paused,
    )
    return request, template
