"""Deciding whether a succeeded run really helped: the outcome of a Remediation in phase ``Verifying``.

Everything the decision needs lives in the Remediation (the deadline the sink
wrote with the phase, ``status.alert.resolvedAt`` from the receiver), so a
restarted operator decides exactly as the one that started the window would.
The operator calls :meth:`Verifier.check` from a periodic timer.

The template's optional ``verify.promql`` confirms a resolution; it never
stands in for one. It is asked once the alert is seen resolved within the
window, and again at each look until it holds or the window ends
(:mod:`suture.verify.check` says what each of its answers leads to). With no
signal about the alert at the window's end the outcome is Unknown whatever
the check would say.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from suture import metrics
from suture.api import API_VERSION, PromQLCheck, Remediation
from suture.engine import PromQLClient
from suture.kube import ApiError, KubeClient
from suture.runs import VERIFYING, Learner, RunRefused, alert_of, load_template, post_event, template_version_of
from suture.store import History
from suture.verify.alertmanager import AlertmanagerUnavailable, AlertSource
from suture.verify.check import ask, check_context
from suture.verify.record import keep_run
from suture.verify.template_status import refresh_template_status

logger = logging.getLogger("suture.verify")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PENDING = "Pending"  # a Verdict that decides nothing yet: the alert resolved, verify.promql is still awaited


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

    outcome: str  # Effective | Ineffective | Unknown; Pending (from decide only) while verify.promql is awaited
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
        promql: PromQLClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        check_interval: float = 10.0,
    ) -> None:
        """``alerts`` is Alertmanager's API (None when ``SUTURE_ALERTMANAGER_URL`` is unset); ``history``
        is the SQL history that keeps the run and its outcome (None: not kept); ``promql`` asks templates'
        ``verify.promql`` (None when ``SUTURE_PROMETHEUS_URL`` is unset: such checks end Unknown);
        ``check_interval`` is how often a check's ``for`` re-queries."""
        self.kube = kube
        self.learner = learner
        self.alerts = alerts
        self.clock = clock
        self.history = history
        self.promql = promql
        self.sleep = sleep
        self.check_interval = check_interval

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
        if verdict.outcome == PENDING:
            await self._note(namespace, name, status, verdict.message)
            return None
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
        verification = self._verification(status, verdict)
        if self.history is not None:
            # Kept before the status says Succeeded, like the lesson: a crash in between decides again and
            # upserts the same row, where keeping it after could leave the history without the outcome.
            try:
                await self._keep(body, verdict, verification)
                await self._template_stats(body, verdict)
            except Exception:  # the history is a record, not a gate: the outcome still goes into the status
                metrics.LEARNING_FAILURES.inc()
                logger.exception("[%s/%s] could not keep the outcome in the history", namespace, name)
        await self._write(namespace, name, uid, verification, verdict)
        metrics.VERIFICATIONS.labels(template, verdict.outcome).inc()
        logger.info("[%s/%s] verification: %s (%s)", namespace, name, verdict.outcome, verdict.message)
        return verdict.outcome

    async def decide(self, body: Mapping[str, Any]) -> Verdict | None:
        """The outcome from the signals available now, or None when it is too early to tell (a Pending
        verdict when the alert resolved and the template's check is still awaited)."""
        now = self.clock()
        status = body.get("status") or {}
        alert = alert_of(body)
        deadline = _parse((status.get("verification") or {}).get("deadline")) or now  # no deadline: decide now
        if not alert["fingerprint"]:
            return Verdict("Unknown", "no alert fingerprint (a Remediation made by hand): nothing to watch")
        resolved = _parse((status.get("alert") or {}).get("resolvedAt"))
        if resolved is not None:
            if resolved <= deadline:
                return await self._confirm(
                    body, Verdict("Effective", "Alertmanager reported the alert resolved", resolved), now, deadline
                )
            return Verdict("Ineffective", "the alert resolved only after the verify window", resolved)
        firing: bool | None = None  # None: no answer from Alertmanager (not configured, or it failed)
        if self.alerts is not None:
            try:
                firing = alert["fingerprint"] in await self.alerts.active_fingerprints(alert["labels"])
            except AlertmanagerUnavailable as exc:
                logger.warning("verification: %s; trying again at the next check", exc)
            if firing is False:
                gone = Verdict("Effective", "Alertmanager no longer lists the alert as active", now)
                return await self._confirm(body, gone, now, deadline)
        if now < deadline:
            return None
        if firing:
            return Verdict("Ineffective", "the alert was still firing when the verify window ended")
        why = "Alertmanager could not be asked" if self.alerts is not None else "no Alertmanager is configured"
        return Verdict("Unknown", f"no resolved notification within the verify window and {why}")

    async def _confirm(
        self, body: Mapping[str, Any], resolved: Verdict, now: datetime, deadline: datetime
    ) -> Verdict | None:
        """The alert resolved in time: Effective once the template's ``verify.promql`` (if any) holds.

        None asks again at the next look: the check did not hold yet, or
        Prometheus or the API server could not answer, and the window is open.
        """
        try:
            check = await self._verify_check(body)
        except (RunRefused, ValueError) as exc:  # the template is gone or invalid: its check cannot be known
            why = getattr(exc, "message", None) or str(exc)
            return Verdict(
                "Unknown", f"{resolved.message}, but the template cannot be read: {why}", resolved.resolved_at
            )
        except Exception as exc:  # the API server did not answer: ask again while the window is open
            if now < deadline:
                logger.warning("verification: the template could not be read (%s); trying again", exc)
                return None
            return Verdict(
                "Unknown", f"{resolved.message}, but the template could not be read: {exc}", resolved.resolved_at
            )
        if check is None:
            return resolved
        answer = await ask(
            check,
            promql=self.promql,
            context=check_context(body, alert_of(body)),
            sleep=self.sleep,
            interval=self.check_interval,
        )
        if answer.holds:
            return Verdict("Effective", f"{resolved.message} and {answer.detail}", resolved.resolved_at)
        if answer.holds is None and answer.final:
            return Verdict("Unknown", f"{resolved.message}, but {answer.detail}", resolved.resolved_at)
        if now < deadline:
            logger.info("verification: the alert resolved; verify.promql not yet: %s", answer.detail)
            waiting = "does not hold yet" if answer.holds is False else "could not be asked yet"
            # A stable sentence (no sample values), so the status is written once, not at every look.
            return Verdict(PENDING, f"{resolved.message}; verify.promql {waiting}, asked again until {_iso(deadline)}")
        if answer.holds is None:
            return Verdict(
                "Unknown", f"{resolved.message}, but when the window ended {answer.detail}", resolved.resolved_at
            )
        return Verdict(
            "Ineffective",
            f"{resolved.message}, but verify.promql did not hold by the end of the window: {answer.detail}",
            resolved.resolved_at,
        )

    async def _note(self, namespace: str, name: str, status: Mapping[str, Any], message: str) -> None:
        """Say in ``status.verification.message`` what the verifier waits for (written only when it changes)."""
        if (status.get("verification") or {}).get("message") == message:
            return
        patch = {"status": {"verification": {"message": message}}}
        try:
            await self.kube.patch("Remediation", name, patch, namespace, subresource="status", api_version=API_VERSION)
        except ApiError as exc:
            if not exc.not_found:
                raise

    async def _verify_check(self, body: Mapping[str, Any]) -> PromQLCheck | None:
        """The ``verify.promql`` of the Remediation's template as it is now; RunRefused when gone or invalid."""
        namespace = str((body.get("metadata") or {}).get("namespace", ""))
        template = await load_template(self.kube, Remediation.model_validate(dict(body)), namespace)
        return template.spec.verify.promql

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
        """Runs, effective rate, last outcome and ``Failing`` of the template (see suture.verify.template_status)."""
        assert self.history is not None
        await refresh_template_status(kube=self.kube, history=self.history, body=body, outcome=verdict.outcome)

    def _verification(self, status: Mapping[str, Any], verdict: Verdict) -> dict[str, Any]:
        """``status.verification`` for ``verdict``: the outcome, when it was checked and the time to resolve."""
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
        return verification

    async def _write(
        self, namespace: str, name: str, uid: str, verification: Mapping[str, Any], verdict: Verdict
    ) -> None:
        """Write the outcome into the status (nothing when the object is gone), and its Event."""
        patch = {
            "status": {
                "phase": "Succeeded",
                "message": f"verified: {verdict.message}",
                "verification": dict(verification),
            }
        }
        try:
            await self.kube.patch("Remediation", name, patch, namespace, subresource="status", api_version=API_VERSION)
        except ApiError as exc:
            if exc.not_found:
                return  # deleted meanwhile: nothing left to report on
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
