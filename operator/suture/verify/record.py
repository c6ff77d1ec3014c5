"""Keeping a decided run in the SQL history: the run, each of its steps, and its outcome.

One writer for both ways a run is decided: verification (a succeeded run is
Effective, Ineffective or Unknown) and failure (a failed or rolled-back run is
Ineffective for its template). Every write is an upsert, so a repeat changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from suture.api import API_VERSION
from suture.kube import KubeClient
from suture.recommend import AlertView, Context, HashingFeaturizer
from suture.runs import alert_of
from suture.store import History, RunRecord, StepRecord

_TOKENS = HashingFeaturizer()  # tokens do not depend on the vector size: any instance names them alike


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time of the status, or None."""
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


async def step_actions(kube: KubeClient | None, body: Mapping[str, Any]) -> dict[str, str]:
    """Step name -> the action it calls (or its kind: wait, approval, ...), from the run's template.

    Best effort: a template deleted since, or no client, leaves the actions
    empty; the history still has the steps' times and outcomes.
    """
    if kube is None:
        return {}
    spec = body.get("spec") or {}
    ref = spec.get("templateRef") or {}
    cluster = ref.get("kind") == "ClusterWorkflowTemplate"
    namespace = None if cluster else str((body.get("metadata") or {}).get("namespace", ""))
    try:
        raw = await kube.get_or_none(
            str(ref.get("kind") or "WorkflowTemplate"), str(ref.get("name", "")), namespace, api_version=API_VERSION
        )
    except Exception:  # the history is a record: a failed lookup only costs the action names
        return {}
    out: dict[str, str] = {}
    for step in ((raw or {}).get("spec") or {}).get("steps") or []:
        if not isinstance(step, Mapping) or not step.get("name"):
            continue
        action = step.get("action")
        if isinstance(action, Mapping) and action.get("name"):
            out[str(step["name"])] = str(action["name"])
        else:
            kinds = [
                k for k in ("condition", "parallel", "wait", "approval", "rollout", "foreach", "subflow") if k in step
            ]
            out[str(step["name"])] = kinds[0] if kinds else ""
    return out


async def keep_run(
    history: History,
    body: Mapping[str, Any],
    *,
    phase: str,
    outcome: str,
    decided_at: datetime,
    message: str,
    resolved_after_seconds: float | None = None,
    kube: KubeClient | None = None,
) -> None:
    """Upsert the run of Remediation ``body``, its steps (from ``status.steps``) and its outcome."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    alert, target = alert_of(body), status.get("target") or {}
    recommendation = status.get("recommendation") or {}
    version = status.get("templateVersion") or {}
    run_id = str(meta.get("uid", ""))
    await history.record_run(
        RunRecord(
            run_id=run_id,
            alert_name=str(alert["labels"].get("alertname", "")),
            fingerprint=str(alert["fingerprint"]),
            template=str(((body.get("spec") or {}).get("templateRef") or {}).get("name", "")),
            phase=phase,
            started_at=parse_time(status.get("startTime")) or decided_at,
            finished_at=parse_time(status.get("completionTime")),
            labels=alert["labels"],
            annotations=alert["annotations"],
            target="/".join(str(target[k]) for k in ("kind", "namespace", "name") if target.get(k)),
            score=recommendation.get("score"),
            template_generation=version.get("generation"),
            template_hash=str(version.get("hash") or ""),
            attempts=1 + len(status.get("retries") or []),
            # What ranking saw: the alert's words and labels, and the live context it was ranked with.
            features=_TOKENS.tokens(AlertView.parse(alert), Context.carried_by(alert)),
        )
    )
    recorded = [s for s in status.get("steps") or [] if isinstance(s, Mapping) and s.get("name")]
    actions = await step_actions(kube, body) if recorded else {}
    for step in recorded:
        await history.record_step(
            StepRecord(
                run_id=run_id,
                step=str(step["name"]),
                phase=str(step.get("phase", "")),
                action=actions.get(str(step["name"]), ""),
                attempts=int(step.get("attempts") or 0),
                started_at=parse_time(step.get("startTime")),
                finished_at=parse_time(step.get("endTime")),
            )
        )
    await history.record_outcome(
        run_id=run_id,
        outcome=outcome,
        decided_at=decided_at,
        resolved_after_seconds=resolved_after_seconds,
        message=message,
    )
