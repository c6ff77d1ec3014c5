"""The operator's ProgressSink: Remediation status, Events and metrics.

The engine may report a transition more than once (a step re-runs after a
restart), so every write here sets the latest state rather than counting.
Steps are kept per run in memory and written as the whole list, seeded from
the stored status when a run is tracked again after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from suture import metrics
from suture.api import API_VERSION, TERMINAL_PHASES
from suture.engine import ApprovalDecision, StepProgress, now_iso
from suture.kube import ApiError, KubeClient
from suture.runs.events import post_event

VERIFYING = "Verifying"
_STEP_REASONS = {
    "Running": "StepStarted",
    "Succeeded": "StepSucceeded",
    "Failed": "StepFailed",
    "Skipped": "StepSkipped",
    "RolledBack": "StepRolledBack",
    "WaitingApproval": "WaitingApproval",
}


@dataclass
class _Run:
    namespace: str
    name: str
    template: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    phase: str = ""
    started: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    step_phases: dict[str, str] = field(default_factory=dict)
    counted: bool = False  # suture_runs_started_total was incremented for this run
    verify_window: float | None = None  # seconds; None: a success is final (a dry run changed nothing)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    try:
        return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()
    except ValueError:
        return None


class KubeStatusSink:
    """Writes run progress into Remediation objects."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._runs: dict[str, _Run] = {}

    def track(
        self,
        *,
        run_id: str,
        namespace: str,
        name: str,
        template: str,
        status: Mapping[str, Any],
        verify_window: float | None = None,
    ) -> None:
        """Tie a run id to its Remediation; ``status`` is what is stored now (after a restart).

        With ``verify_window`` (seconds) a run that succeeds is written as
        ``Verifying`` with its deadline, for ``suture.verify`` to decide.
        """
        run = _Run(namespace=namespace, name=name, template=template, verify_window=verify_window)
        for step in status.get("steps") or []:
            run.steps[step["name"]] = dict(step)
            run.step_phases[step["name"]] = step.get("phase", "")
        run.phase = str(status.get("phase", ""))
        run.started = status.get("startTime")
        run.counted = bool(run.phase)  # a run seen before a restart was counted by the process that started it
        self._runs[run_id] = run

    def forget(self, run_id: str) -> None:
        """Stop tracking a run (its Remediation is gone)."""
        self._runs.pop(run_id, None)

    async def _patch(self, run: _Run, status: dict[str, Any]) -> None:
        try:
            await self._kube.patch(
                "Remediation",
                run.name,
                {"status": status},
                run.namespace,
                subresource="status",
                api_version=API_VERSION,
            )
        except ApiError as exc:
            if not exc.not_found:  # a deleted Remediation needs no status
                raise

    async def _event(self, run_id: str, run: _Run, reason: str, message: str, warning: bool) -> None:
        await post_event(
            self._kube,
            namespace=run.namespace,
            name=run.name,
            uid=run_id,
            reason=reason,
            message=message,
            warning=warning,
        )

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        """Write the phase; stamp start and completion; post an Event when the phase changes."""
        run = self._runs.get(run_id)
        if run is None:
            return
        async with run.lock:
            status: dict[str, Any] = {"phase": phase, "message": message, "undone": list(undone)}
            if run.started is None:
                run.started = now_iso()
            if not run.counted:
                run.counted = True
                metrics.RUNS_STARTED.labels(run.template).inc()
            status["startTime"] = run.started
            if phase == "Succeeded" and run.phase == VERIFYING:
                return  # a repeated report must not move the deadline
            if phase == "Succeeded" and run.verify_window is not None:
                # The steps are done, the alert may still fire: the deadline goes into the status in
                # the same write as the phase, so a restart cannot lose a run between the two.
                phase = VERIFYING
                status["phase"] = phase
                status["completionTime"] = now_iso()
                deadline = datetime.now(UTC) + timedelta(seconds=run.verify_window)
                status["verification"] = {
                    "outcome": "Pending",
                    "deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "message": f"steps succeeded; waiting up to {run.verify_window:g}s for the alert to resolve",
                }
            changed = phase != run.phase
            if changed and phase == VERIFYING:
                metrics.RUNS_FINISHED.labels(run.template, "Succeeded").inc()
                elapsed = _seconds(run.started, status["completionTime"])
                if elapsed is not None:
                    metrics.RUN_DURATION.labels(run.template).observe(elapsed)
            if phase in TERMINAL_PHASES:
                status["completionTime"] = now_iso()
                if changed:
                    metrics.RUNS_FINISHED.labels(run.template, phase).inc()
                    elapsed = _seconds(run.started, status["completionTime"])
                    if elapsed is not None:
                        metrics.RUN_DURATION.labels(run.template).observe(elapsed)
            if changed and phase == "WaitingApproval":
                metrics.RUNS_WAITING_APPROVAL.inc()
            elif changed and run.phase == "WaitingApproval":
                metrics.RUNS_WAITING_APPROVAL.dec()
            run.phase = phase
            await self._patch(run, status)
            if changed:
                # Entering Verifying is still the run's success (its steps are done): the Event says so.
                reason = "RunSucceeded" if phase == VERIFYING else f"Run{phase}"
                text = f"{message or 'Succeeded'}; verifying the alert resolves" if phase == VERIFYING else message
                await self._event(run_id, run, reason, text or phase, warning=phase in ("Failed", "RolledBack"))

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        """Write the whole steps list with this step's latest state; post an Event on a phase change."""
        run = self._runs.get(run_id)
        if run is None:
            return
        async with run.lock:
            run.steps[step.name] = step.to_status()
            await self._patch(run, {"steps": list(run.steps.values())})
            if run.step_phases.get(step.name) != step.phase:
                run.step_phases[step.name] = step.phase
                if step.phase in ("Succeeded", "Failed", "Skipped", "RolledBack"):
                    metrics.STEPS_FINISHED.labels(run.template, step.name, step.phase).inc()
                    elapsed = _seconds(step.start_time, step.end_time)
                    if elapsed is not None:
                        metrics.STEP_DURATION.labels(run.template, step.name).observe(elapsed)
                reason = _STEP_REASONS.get(step.phase, f"Step{step.phase}")
                text = f"step {step.name}: {step.message}" if step.message else f"step {step.name}: {step.phase}"
                await self._event(run_id, run, reason, text, warning=step.phase == "Failed")

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        """Record who answered an approval, and when."""
        run = self._runs.get(run_id)
        if run is None:
            return
        async with run.lock:
            record = {
                "decision": decision.decision,
                "step": decision.step,
                "by": decision.by,
                "at": decision.at or now_iso(),
                "reason": decision.reason,
            }
            if record["decision"] not in ("Approved", "Rejected", "Pending"):
                record = {**record, "decision": "Rejected", "reason": decision.reason or decision.decision}
            await self._patch(run, {"approval": record})
            by = f" by {decision.by}" if decision.by else ""
            await self._event(
                run_id,
                run,
                f"Approval{decision.decision}",
                f"step {decision.step}: {decision.decision}{by}",
                warning=decision.decision not in ("Approved", "Pending"),
            )
