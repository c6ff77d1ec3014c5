"""What a run teaches: the seam through which run outcomes reach the recommender.

``runs`` cannot import ``suture.recommend`` (siblings in the layers); the
operator hands the service a :class:`Learner` instead (``suture.verify``
adapts the Recommender to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from suture.api import LIVE_CONTEXT_KEY

# Which finished runs teach what. Succeeded runs teach through verification; a
# refused run never acted and a cancelled one was stopped by a person: neither
# says anything about the template.
INEFFECTIVE_PHASES = frozenset({"Failed", "RolledBack"})


class Learner(Protocol):
    """Records the outcome of running a template for an alert. Must not raise for a bad outcome store."""

    async def record(
        self,
        *,
        alert: Mapping[str, Any],
        template: str,
        outcome: str,
        run_id: str,
        remediation: Mapping[str, Any] | None = None,
        phase: str | None = None,
        template_version: str = "",
    ) -> None:
        """Learn that ``template`` ran for ``alert`` with ``outcome`` (idempotent per ``run_id``).

        ``template_version`` is the version that ran (:func:`template_version_of`), so ranking can tell an
        edited template's new record from its old one.

        ``remediation`` and ``phase`` come with a failed or rolled-back run (the
        Remediation as last read, and the run's final phase) so the run can be
        kept in the history with its steps.
        """


def template_version_of(body: Mapping[str, Any]) -> str:
    """The template version a Remediation ran (``status.templateVersion.hash``), "" when it has none."""
    version = (body.get("status") or {}).get("templateVersion") or {}
    return str(version.get("hash") or "") if isinstance(version, Mapping) else ""


def alert_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Remediation's alert as an Alertmanager v4 alert dict (labels, annotations, fingerprint, startsAt),
    with its live context when the receiver read one.

    The values are copied as data; nothing here interprets them.
    """
    alert = (body.get("spec") or {}).get("alert") or {}
    labels = dict(alert.get("labels") or {})
    if alert.get("name") and "alertname" not in labels:
        labels["alertname"] = str(alert["name"])
    out: dict[str, Any] = {
        "status": "firing",
        "labels": labels,
        "annotations": dict(alert.get("annotations") or {}),
        "fingerprint": str(alert.get("fingerprint") or ""),
        "startsAt": alert.get("startsAt") or "",
    }
    # The live context the alert was ranked with, so the outcome is learned on the same features, even by
    # a process that never ranked it (after a restart, or on another replica).
    context = ((body.get("status") or {}).get("recommendation") or {}).get("context")
    if isinstance(context, Mapping):
        out[LIVE_CONTEXT_KEY] = {k: v for k, v in context.items() if k != "features"}
    return out
