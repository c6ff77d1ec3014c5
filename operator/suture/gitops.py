"""Who else reconciles an object: Argo CD or Flux, read from the object's own marks.

A remediation that edits an object a GitOps controller reconciles is undone
at the controller's next sync, and the alert comes back. This module only
reads the marks those controllers leave (pure: no API calls), so the run's
safety rules can refuse such a change, and the engine can suspend the
controller for the run when the template asks for it.

The marks, as the controllers write them:

- Argo CD: the annotation ``argocd.argoproj.io/tracking-id`` =
  ``<app>:<group>/<kind>:<namespace>/<name>``. Copies of it travel (a pod
  template's annotations, a manifest copied by hand), so it counts only when
  it names the very object carrying it. Installs in label tracking mode mark
  objects with the label ``app.kubernetes.io/instance`` = ``<app>`` instead
  (its key is Argo CD's ``application.instanceLabelKey``); that label is also
  common outside Argo CD, so it counts only when the operator is told Argo CD
  tracks by label. ``<app>`` is ``<namespace>_<name>`` for an Application
  outside Argo CD's own namespace.
- Flux: the labels ``kustomize.toolkit.fluxcd.io/name`` and ``/namespace``
  (a Kustomization), ``helm.toolkit.fluxcd.io/name`` and ``/namespace`` (a
  HelmRelease). An object marked ``kustomize.toolkit.fluxcd.io/reconcile:
  disabled`` is left alone by Flux, so it is not managed.
- Either: ``metadata.managedFields`` naming the controllers' field managers.
  That tells which tool, but not which Application or Kustomization, so such
  an object can be refused or ignored, never suspended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ARGOCD",
    "FLUX_HELM",
    "FLUX_KUSTOMIZE",
    "GitOpsController",
    "GitOpsSettings",
    "Managed",
    "describe",
    "detect",
    "detect_all",
]

TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"

ARGOCD = "Argo CD"
FLUX_KUSTOMIZE = "Flux"
FLUX_HELM = "Flux (helm-controller)"

# Field managers of the controllers' writes (server-side apply or update).
FIELD_MANAGERS: dict[str, str] = {
    "argocd-controller": ARGOCD,
    "argocd-application-controller": ARGOCD,
    "kustomize-controller": FLUX_KUSTOMIZE,
    "helm-controller": FLUX_HELM,
}
_FLUX_LABELS = (
    ("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomize.toolkit.fluxcd.io/v1", FLUX_KUSTOMIZE),
    ("helm.toolkit.fluxcd.io", "HelmRelease", "helm.toolkit.fluxcd.io/v2", FLUX_HELM),
)


@dataclass(frozen=True)
class GitOpsSettings:
    """How the cluster's GitOps tools are set up (operator settings, not template fields)."""

    argocd_namespace: str = "argocd"
    """Where Argo CD keeps its Applications (an ``<app>`` id without ``<namespace>_`` lives here)."""
    argocd_label_tracking: bool = False
    """Argo CD tracks resources by label (``application.resourceTrackingMethod: label``)."""
    argocd_instance_label: str = "app.kubernetes.io/instance"
    """The label key of label tracking (Argo CD's ``application.instanceLabelKey``)."""


@dataclass(frozen=True)
class GitOpsController:
    """The GitOps object that reconciles a managed object: what ``gitops: suspend`` pauses."""

    kind: str  # Application, Kustomization or HelmRelease
    api_version: str
    namespace: str
    name: str

    def ref(self) -> dict[str, str]:
        """The controller as a JSON-ready reference (kept in the run's checkpoint and journal)."""
        return {"kind": self.kind, "apiVersion": self.api_version, "namespace": self.namespace, "name": self.name}

    def display(self) -> str:
        """``Kustomization flux-system/apps`` and the like."""
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Managed:
    """One object found managed by a GitOps tool, with the evidence."""

    object: str  # e.g. "Deployment shop/web"
    tool: str  # ARGOCD, FLUX_KUSTOMIZE or FLUX_HELM
    evidence: str  # the mark that told, in plain words
    controller: GitOpsController | None  # None when only managedFields told (nothing known to suspend)


def _display(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', 'object')} {where}{meta.get('name', '')}"


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _application(app_id: str, settings: GitOpsSettings) -> GitOpsController | None:
    """The Application an Argo CD app id names (``name`` or ``namespace_name``)."""
    namespace, _, name = app_id.rpartition("_")
    if not name:
        return None
    return GitOpsController("Application", "argoproj.io/v1alpha1", namespace or settings.argocd_namespace, name)


def _tracking_names_itself(tracking: str, obj: Mapping[str, Any]) -> str | None:
    """The app id of a tracking id that names ``obj`` itself, else None (a copy, or malformed)."""
    app_id, sep, rest = tracking.partition(":")
    group_kind, sep2, ns_name = rest.partition(":")
    if not (sep and sep2 and app_id):
        return None
    group, _, kind = group_kind.partition("/")
    namespace, _, name = ns_name.partition("/")
    meta = obj.get("metadata") or {}
    same = (
        group == _group(str(obj.get("apiVersion", "")))
        and kind == obj.get("kind")
        and namespace == (meta.get("namespace") or "")
        and name == meta.get("name")
    )
    return app_id if same else None


def _argocd(obj: Mapping[str, Any], settings: GitOpsSettings) -> Managed | None:
    meta = obj.get("metadata") or {}
    tracking = (meta.get("annotations") or {}).get(TRACKING_ANNOTATION)
    if isinstance(tracking, str):
        app_id = _tracking_names_itself(tracking, obj)
        if app_id is not None:
            evidence = f"annotation {TRACKING_ANNOTATION}={tracking}"
            return Managed(_display(obj), ARGOCD, evidence, _application(app_id, settings))
    if settings.argocd_label_tracking:
        instance = (meta.get("labels") or {}).get(settings.argocd_instance_label)
        if isinstance(instance, str) and instance:
            evidence = f"label {settings.argocd_instance_label}={instance} (Argo CD label tracking)"
            return Managed(_display(obj), ARGOCD, evidence, _application(instance, settings))
    return None


def _flux(obj: Mapping[str, Any]) -> list[Managed]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if _flux_disabled(obj):
        return []  # Flux leaves this object alone: its edits stay
    found = []
    for prefix, kind, api_version, tool in _FLUX_LABELS:
        name, namespace = labels.get(f"{prefix}/name"), labels.get(f"{prefix}/namespace")
        if isinstance(name, str) and name and isinstance(namespace, str) and namespace:
            evidence = f"labels {prefix}/name={name}, {prefix}/namespace={namespace}"
            found.append(Managed(_display(obj), tool, evidence, GitOpsController(kind, api_version, namespace, name)))
    return found


def _field_managers(obj: Mapping[str, Any]) -> list[Managed]:
    found: dict[str, Managed] = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        manager = str((entry or {}).get("manager", ""))
        tool = FIELD_MANAGERS.get(manager)
        if tool is not None and tool not in found:
            found[tool] = Managed(_display(obj), tool, f"managedFields name the field manager {manager}", None)
    return list(found.values())


def detect(obj: Mapping[str, Any], *, settings: GitOpsSettings | None = None) -> list[Managed]:
    """The GitOps tools managing ``obj``, one entry per tool; empty when none.

    A tool told by a label or annotation (which names its controller object)
    wins over the same tool told only by managedFields.
    """
    settings = settings or GitOpsSettings()
    marked = [m for m in (_argocd(obj, settings), *_flux(obj)) if m is not None]
    skip = {m.tool for m in marked}
    if _flux_disabled(obj):
        skip |= {FLUX_KUSTOMIZE, FLUX_HELM}  # Flux's own opt-out also silences its field managers
    return [*marked, *(m for m in _field_managers(obj) if m.tool not in skip)]


def _flux_disabled(obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    value = (meta.get("labels") or {}).get(FLUX_RECONCILE) or (meta.get("annotations") or {}).get(FLUX_RECONCILE)
    return value == "disabled"


def detect_all(objects: Iterable[Mapping[str, Any]], *, settings: GitOpsSettings | None = None) -> list[Managed]:
    """:func:`detect` over a target and its owners, in that order."""
    return [found for obj in objects for found in detect(obj, settings=settings)]


def describe(found: Iterable[Managed]) -> str:
    """Plain words for a refusal: which object, which tool, which mark."""
    return "; ".join(f"{m.object} is managed by {m.tool} ({m.evidence})" for m in found)
