"""Deciding whether a succeeded run really helped: the outcome of a Remediation in phase ``Verifying``.

Everything the decision needs lives in the Remediation (the deadline the sink
wrote with the phase, ``status.alert.resolvedAt`` from the receiver), so a
restarted operator decides exactly as the one that started the window would.
The operator calls :meth:`Verifier.check` from a periodic timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from suture import metrics
from suture.api import API_VERSION
from suture.kube import ApiError, KubeClient
from suture.runs import VERIFYING, Learner, alert_of, post_event, template_version_of
from suture.store import History, keeps_failing
from suture.verify.alertmanager import AlertmanagerUnavailable, AlertSource
from suture.verify.record import keep_run

logger = logging.getLogger("suture.verify")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(text: Any) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset, with or without fractions), or None when absent or unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


@dataclass(frozen=True)
class Verdict:
    """The decided outcome, how it was decided, and when the alert resolved (when it did)."""

    outcome: str  # Effective | Ineffective | Unknown
    message: str
    resolved_at: datetime | None = None


class Verifier:
    """Decides, writes and teaches the outcome of Remediations in ``Verifying``."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        learner: Learner | None = None,
        alerts: AlertSource | None = None,
        clock: Callable[[], datetime] = _now,
        history: History | None = None,
    ) -> None:
        """``alerts`` is Alertmanager's API (None when ``SUTURE_ALERTMANAGER_URL`` is unset); ``history``
        is the SQL history that keeps the run and its outcome (None: not kept)."""
        self.kube = kube
        self.learner = learner
        self.alerts = alerts
        self.clock = clock
        self.history = history

    async def check(self, body: Mapping[str, Any]) -> str | None:
        """Decide the outcome if it can be told now: record it with the learner, write it, return it.

        Returns None while the alert may still resolve within the window, and
        for a Remediation that is not ``Verifying``. Calling it again after a
        decision (or after a crash between the learner and the write) is safe:
        the learner counts a run once.
        """
        status = body.get("status") or {}
        if status.get("phase") != VERIFYING:
            return None
        verdict = await self.decide(body)
        if verdict is None:
            return None
        meta = body.get("metadata") or {}
        namespace, name, uid = str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", ""))
        template = str(((body.get("spec") or {}).get("templateRef") or {}).get("name", ""))
        if self.learner is not None:
            # Learn before writing the phase: a crash in between repeats the (idempotent) lesson, never skips it.
            try:
                await self.learner.record(
                    alert=alert_of(body),
                    template=template,
                    outcome=verdict.outcome,
                    run_id=uid,
                    template_version=template_version_of(body),
                )
            except Exception:
                metrics.LEARNING_FAILURES.inc()
                logger.exception("[%s/%s] could not record the outcome %s", namespace, name, verdict.outcome)
        verification = await self._write(namespace, name, uid, status, verdict)
        if self.history is not None and verification is not None:
            try:
                await self._keep(body, verdict, verification)
                await self._template_stats(body, verdict)
            except Exception:  # the history is a record, not a gate: the outcome is already in the status
                metrics.LEARNING_FAILURES.inc()
                logger.exception("[%s/%s] could not keep the outcome in the history", namespace, name)
        metrics.VERIFICATIONS.labels(template, verdict.outcome).inc()
        logger.info("[%s/%s] verification: %s (%s)", namespace, name, verdict.outcome, verdict.message)
        return verdict.outcome

    async def decide(self, body: Mapping[str, Any]) -> Verdict | None:
        """The outcome from the signals available now, or None when it is too early to tell."""
        now = self.clock()
        status = body.get("status") or {}
        alert = alert_of(body)
        deadline = _parse((status.get("verification") or {}).get("deadline")) or now  # no deadline: decide now
        if not alert["fingerprint"]:
            return Verdict("Unknown", "no alert fingerprint (a Remediation made by hand): nothing to watch")
        resolved = _parse((status.get("alert") or {}).get("resolvedAt"))
        if resolved is not None:
            if resolved <= deadline:
                return Verdict("Effective", "Alertmanager reported the alert resolved", resolved)
            return Verdict("Ineffective", "the alert resolved only after the verify window", resolved)
        firing: bool | None = None  # None: no answer from Alertmanager (not configured, or it failed)
        if self.alerts is not None:
            try:
                firing = alert["fingerprint"] in await self.alerts.active_fingerprints(alert["labels"])
            except AlertmanagerUnavailable as exc:
                logger.warning("verification: %s; trying again at the next check", exc)
            if firing is False:
                return Verdict("Effective", "Alertmanager no longer lists the alert as active", now)
        if now < deadline:
            return None
        if firing:
            return Verdict("Ineffective", "the alert was still firing when the verify window ended")
        why = "Alertmanager could not be asked" if self.alerts is not None else "no Alertmanager is configured"
        return Verdict("Unknown", f"no resolved notification within the verify window and {why}")

    async def _keep(self, body: Mapping[str, Any], verdict: Verdict, verification: Mapping[str, Any]) -> None:
        """The run, its steps and its outcome in the SQL history (upserts: a repeat changes nothing)."""
        assert self.history is not None
        await keep_run(
            self.history,
            body,
            phase="Succeeded",
            outcome=verdict.outcome,
            decided_at=self.clock(),
            message=verdict.message,
            resolved_after_seconds=verification.get("timeToResolveSeconds"),
            kube=self.kube,
        )

    async def _template_stats(self, body: Mapping[str, Any], verdict: Verdict) -> None:
        """Runs, effective rate and last outcome of the template, recomputed from the history (so a
        repeated decision cannot count twice). Counted by template name across namespaces."""
        assert self.history is not None
        ref = (body.get("spec") or {}).get("templateRef") or {}
        template = str(ref.get("name", ""))
        rows = [row for row in await self.history.stats() if row.template == template]
        failing = keeps_failing((await self.history.outcomes_by_template()).get(template, []))
        metrics.TEMPLATE_FAILING.labels(template).set(1 if failing else 0)
        effective = sum(row.effective for row in rows)
        ineffective = sum(row.ineffective for row in rows)
        stats: dict[str, Any] = {
            "runs": sum(row.runs for row in rows),
            "succeeded": effective,
            "failed": ineffective,
            "unknown": sum(row.unknown for row in rows),
            "lastOutcome": verdict.outcome,
            "lastRunTime": (body.get("status") or {}).get("startTime"),
        }
        if effective + ineffective:
            stats["effectiveness"] = round(effective / (effective + ineffective), 4)
        cluster = ref.get("kind") == "ClusterWorkflowTemplate"
        kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        namespace = None if cluster else str((body.get("metadata") or {}).get("namespace", ""))
        try:
            await self.kube.patch(
                kind, template, {"status": {"stats": stats}}, namespace, subresource="status", api_version=API_VERSION
            )
        except ApiError as exc:
            if not exc.not_found:
                raise

    async def _write(
        self, namespace: str, name: str, uid: str, status: Mapping[str, Any], verdict: Verdict
    ) -> dict[str, Any] | None:
        """Write the outcome into the status; the verification written, or None when the object is gone."""
        now = self.clock()
        verification: dict[str, Any] = {
            "outcome": verdict.outcome,
            "checkedAt": _iso(now),
            "message": verdict.message,
        }
        if verdict.resolved_at is not None:
            verification["resolvedAt"] = _iso(verdict.resolved_at)
            completed = _parse(status.get("completionTime"))
            if completed is not None:
                # From the end of the run, not the alert's start: what the template's own work took to show.
                verification["timeToResolveSeconds"] = max(0.0, (verdict.resolved_at - completed).total_seconds())
        patch = {
            "status": {"phase": "Succeeded", "message": f"verified: {verdict.message}", "verification": verification}
        }
        try:
            await self.kube.patch("Remediation", name, patch, namespace, subresource="status", api_version=API_VERSION)
        except ApiError as exc:
            if exc.not_found:
                return None  # deleted meanwhile: nothing left to report on
            raise
        await post_event(
            self.kube,
            namespace=namespace,
            name=name,
            uid=uid,
            reason=f"Verification{verdict.outcome}",
            message=verdict.message,
            warning=verdict.outcome == "Ineffective",
        )
        return verification
