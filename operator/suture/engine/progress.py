"""How a run reports what it does: the ProgressSink the caller implements.

The engine calls a sink at least once for every transition (a step that
re-runs after a restart reports again), so an implementation must be
idempotent: write the latest state, never count calls. The operator's sink
writes the Remediation status and posts Kubernetes Events; tests use
:class:`RecordingSink`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from suture.engine.state import RUNNING

logger = logging.getLogger("suture.engine")


@dataclass(frozen=True)
class StepProgress:
    """One step's state, shaped like ``suture.api.StepStatus``."""

    name: str
    phase: str
    attempts: int = 0
    start_time: str | None = None
    end_time: str | None = None
    message: str = ""
    output: Mapping[str, Any] = field(default_factory=dict)
    kind: str = ""  # the step kind (action, condition, ...); not part of the status, for plans and logs

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StepProgress:
        """Build from the camelCase record kept in the run's checkpoint."""
        return cls(
            name=str(record["name"]),
            phase=str(record.get("phase", "Pending")),
            attempts=int(record.get("attempts", 0)),
            start_time=record.get("startTime"),
            end_time=record.get("endTime"),
            message=str(record.get("message", "")),
            output=dict(record.get("output") or {}),
            kind=str(record.get("kind", "")),
        )

    def to_status(self) -> dict[str, Any]:
        """The camelCase dict a ``StepStatus`` validates (``None`` times left out)."""
        status: dict[str, Any] = {
            "name": self.name,
            "phase": self.phase,
            "attempts": self.attempts,
            "message": self.message,
            "output": dict(self.output),
        }
        if self.start_time:
            status["startTime"] = self.start_time
        if self.end_time:
            status["endTime"] = self.end_time
        return status


@dataclass(frozen=True)
class ApprovalDecision:
    """A person's answer to an approval, as the engine recorded it."""

    step: str
    decision: str  # Approved, Rejected, Timeout or Cancelled
    by: str = ""
    reason: str = ""
    at: str = ""


class ProgressSink(Protocol):
    """Receives every run and step transition; every method must be idempotent."""

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        """The run entered ``phase`` (Running, WaitingApproval, Succeeded, Failed, RolledBack, Cancelled)."""

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        """A step changed (Running, WaitingApproval, Succeeded, Failed, Skipped, RolledBack)."""

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        """An approval was answered (or timed out, or the run was cancelled while it waited)."""


class NullSink:
    """A sink that discards everything."""

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        """Discard."""

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        """Discard."""

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        """Discard."""


@dataclass
class RecordingSink:
    """Keeps every call in memory, in order; for tests and ``suture simulate``."""

    phases: list[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=list)
    steps: list[tuple[str, StepProgress]] = field(default_factory=list)
    approvals: list[tuple[str, ApprovalDecision]] = field(default_factory=list)

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        """Record a run phase change."""
        self.phases.append((run_id, phase, message, tuple(undone)))

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        """Record a step transition."""
        self.steps.append((run_id, step))

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        """Record an approval answer."""
        self.approvals.append((run_id, decision))

    def run_phases(self, run_id: str) -> list[str]:
        """The phases ``run_id`` went through, in order (repeats collapsed)."""
        out: list[str] = []
        for rid, phase, _, _ in self.phases:
            if rid == run_id and (not out or out[-1] != phase):
                out.append(phase)
        return out

    def step_phases(self, run_id: str, name: str) -> list[str]:
        """The phases step ``name`` of ``run_id`` went through, in order (repeats collapsed)."""
        out: list[str] = []
        for rid, progress in self.steps:
            if rid == run_id and progress.name == name and (not out or out[-1] != progress.phase):
                out.append(progress.phase)
        return out


SINK_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


class BestEffortSink:
    """Wraps the caller's sink so that reporting never fails a run, nor holds up its work.

    Status and Event writes can meet a 429, a 5xx or a connection reset: a
    step that did its work must not fail because its progress could not be
    written, and a run must not be stranded half-way. Each call is retried a
    few times with backoff, then dropped with a log line; the sink writes the
    latest state, so the next successful call (or the resume after a
    restart, which re-reports) brings the status up to date.

    Reports reach the inner sink one at a time per run, in the order they
    were made. A ``Running`` report (the run starting, a step starting, a
    step's next attempt) is written behind: the call returns at once and
    the run gets on with its work (an alert's first action is not kept
    waiting for two status writes and two Events). Every other report is
    awaited, and with it every report of the run before it, so by the time
    a step's result is reported (before its checkpoint) the status holds
    all of it, as it did when every report was awaited. A crash can lose
    only a ``Running`` report of a step that had not finished, and that
    step runs, and reports, again on resume.
    """

    def __init__(
        self,
        inner: ProgressSink,
        *,
        delays: Sequence[float] = SINK_RETRY_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self._delays = tuple(delays)
        self._sleep = sleep
        self._tails: dict[str, asyncio.Task[None]] = {}  # per run: its latest report, which waits for the others

    def _queue(self, run_id: str, write: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Start ``write`` after every earlier report of ``run_id``; the task never raises but cancellation."""
        before = self._tails.get(run_id)

        async def in_turn() -> None:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own: a cancelled report does not cancel this one
            await write()

        task = asyncio.create_task(in_turn(), name=f"suture-report-{run_id}")
        self._tails[run_id] = task
        task.add_done_callback(lambda done: self._tails.pop(run_id, None) if self._tails.get(run_id) is done else None)
        return task

    async def _report(self, run_id: str, *, behind: bool, write: Callable[[], Awaitable[None]]) -> None:
        task = self._queue(run_id, write)
        if not behind:
            await task

    async def flush(self, run_id: str) -> None:
        """Wait until every report of ``run_id`` made so far was written (or given up)."""
        tail = self._tails.get(run_id)
        if tail is not None:
            await asyncio.wait([tail])

    async def aclose(self, *, timeout: float) -> None:
        """Let the reports still being written land for up to ``timeout`` seconds, then stop them (shutting
        down: a run resumed later reports its state again)."""
        tails = list(self._tails.values())
        if not tails:
            return
        _, late = await asyncio.wait(tails, timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _call(self, what: str, run_id: str, call: Callable[[], Awaitable[None]]) -> None:
        for attempt in range(len(self._delays) + 1):
            try:
                await call()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a reporting failure is logged, never raised into the run
                if attempt == len(self._delays):
                    logger.error("run %s: could not report %s after %d attempts: %s", run_id, what, attempt + 1, exc)
                    return
                logger.info("run %s: reporting %s failed (%s); retrying", run_id, what, exc)
                await self._sleep(self._delays[attempt])

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        """Report a run phase, best effort; ``Running`` is written behind."""
        undone = tuple(undone)
        await self._report(
            run_id,
            behind=phase == RUNNING,
            write=lambda: self._call(
                f"phase {phase}",
                run_id,
                lambda: self.inner.run_phase(run_id=run_id, phase=phase, message=message, undone=undone),
            ),
        )

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        """Report a step transition, best effort; ``Running`` is written behind."""
        await self._report(
            run_id,
            behind=step.phase == RUNNING,
            write=lambda: self._call(f"step {step.name}", run_id, lambda: self.inner.step(run_id=run_id, step=step)),
        )

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        """Report an approval answer, best effort."""
        await self._report(
            run_id,
            behind=False,
            write=lambda: self._call(
                "an approval", run_id, lambda: self.inner.approval(run_id=run_id, decision=decision)
            ),
        )
