"""The history row of a run, built from its Remediation: one builder for the run's start and its decision.

The start (:class:`~suture.runs.service.RemediationService`, once the run is
accepted) writes the row the safety rules count; the decision
(:func:`suture.verify.record.keep_run`) completes it with the phase, the
finish and the steps. Both read the same fields, so the row never changes
meaning between the two writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from suture.runs.learning import alert_of
from suture.store import RunRecord


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time of the status, or None."""
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


def run_record(
    body: Mapping[str, Any], *, phase: str, started_at: datetime, status: Mapping[str, Any] | None = None
) -> RunRecord:
    """The run of Remediation ``body`` as history keeps it; ``status`` overrides the body's (a fresh patch)."""
    meta = body.get("metadata") or {}
    status = status if status is not None else (body.get("status") or {})
    alert, target = alert_of(body), status.get("target") or {}
    recommendation = status.get("recommendation") or (body.get("status") or {}).get("recommendation") or {}
    version = status.get("templateVersion") or {}
    return RunRecord(
        run_id=str(meta.get("uid", "")),
        alert_name=str(alert["labels"].get("alertname", "")),
        fingerprint=str(alert["fingerprint"]),
        template=str(((body.get("spec") or {}).get("templateRef") or {}).get("name", "")),
        phase=phase,
        started_at=parse_time(status.get("startTime")) or started_at,
        finished_at=parse_time(status.get("completionTime")),
        labels=alert["labels"],
        annotations=alert["annotations"],
        target="/".join(str(target[k]) for k in ("kind", "namespace", "name") if target.get(k)),
        score=recommendation.get("score"),
        template_generation=version.get("generation"),
        template_hash=str(version.get("hash") or ""),
        attempts=1 + len(status.get("retries") or []),
        namespace=str(meta.get("namespace", "")),
        remediation=str(meta.get("name", "")),
        target_uid=str(target.get("uid") or ""),
    )
