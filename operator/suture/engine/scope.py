"""What a running step can reach: the run's services, its context, and where progress goes.

:class:`RunDeps` holds the engine-wide services (registry, Kubernetes client,
sink, PromQL client, template source, cancellation book, and the effects: a
real run's, or ``suture simulate``'s plan effects). :class:`Scope` is
one step's view: the expression context, the records and journal it adds to,
and helpers to report progress and to wait in a cancellable way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from suture.actions import ActionContext, Registry
from suture.api import WorkflowTemplateSpec
from suture.engine.conditions import PromQLClient
from suture.engine.effects import Effects, LiveEffects
from suture.engine.journal import EffectJournal, MemoryJournal, idempotency_key
from suture.engine.progress import NullSink, ProgressSink, StepProgress
from suture.engine.retry import RunCancelled
from suture.kube import KubeClient
from suture.logs import RunLogger, run_logger

TemplateKind = Literal["WorkflowTemplate", "ClusterWorkflowTemplate"]
MAX_SUBFLOW_DEPTH = 4


class TemplateSource(Protocol):
    """Loads the template a ``subflow`` step names."""

    async def load(self, *, name: str, kind: TemplateKind, namespace: str | None) -> WorkflowTemplateSpec:
        """The spec of template ``name``; TemplateNotFound when it does not exist, InvalidTemplate when invalid."""


@dataclass(frozen=True)
class CancelRequest:
    """A request to stop a run at its next step boundary."""

    rollback: bool = False


class CancelBook:
    """Pending cancellation requests by run id (in memory: the caller re-asks after a restart)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._rollback: dict[str, bool] = {}

    def request(self, run_id: str, *, rollback: bool) -> CancelRequest:
        """Ask ``run_id`` to stop; a later call may turn rollback on but never off."""
        self._rollback[run_id] = self._rollback.get(run_id, False) or rollback
        self.event(run_id).set()
        return CancelRequest(rollback=self._rollback[run_id])

    def get(self, run_id: str) -> CancelRequest | None:
        """The pending request for ``run_id``, if any."""
        if run_id not in self._rollback:
            return None
        return CancelRequest(rollback=self._rollback[run_id])

    def event(self, run_id: str) -> asyncio.Event:
        """An event set when ``run_id`` is cancelled (created on first use)."""
        return self._events.setdefault(run_id, asyncio.Event())

    def forget(self, run_id: str) -> None:
        """Drop the request once the run has ended."""
        self._events.pop(run_id, None)
        self._rollback.pop(run_id, None)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def stop_draining(deps: RunDeps) -> None:
    """Stop this run's task here when the engine drains: the caller is at a checkpoint (a step boundary,
    or a wait whose start time is journaled), so the run resumes from it later, unchanged.

    Raises :class:`asyncio.CancelledError` (which no step machinery records as a failure), as a
    cancelled task would.
    """
    if deps.draining.is_set():
        raise asyncio.CancelledError("the engine drains; the run resumes from its checkpoint")


@dataclass
class RunDeps:
    """Engine-wide services shared by every run."""

    registry: Registry
    kube: KubeClient
    sink: ProgressSink = field(default_factory=NullSink)
    promql: PromQLClient | None = None
    templates: TemplateSource | None = None
    cancels: CancelBook = field(default_factory=CancelBook)
    # Runs asked to pause at their next step boundary (in memory: the Remediation's spec.paused re-asks
    # after a restart; a run that reached the boundary is Paused in its checkpoint).
    pauses: set[str] = field(default_factory=set)
    clock: Callable[[], datetime] = _utcnow
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    global_dry_run: bool = False
    effects: Effects = field(default_factory=LiveEffects)  # how steps touch the world: a real run, or a plan
    journal: EffectJournal = field(default_factory=MemoryJournal)  # durable per-call effects (exactly-once)
    # Runs continuing after a pause or a restart: their target's UID is checked at the next step boundary.
    recheck_target: set[str] = field(default_factory=set)
    # Set when the operator shuts down: runs stop at their next checkpoint, unfinished (see Engine.drain).
    draining: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Scope:
    """One step's view of its run."""

    deps: RunDeps
    run: Mapping[str, Any]  # the run's static settings (RunState["run"])
    spec: WorkflowTemplateSpec  # the template whose steps are being run (a subflow's own)
    context: dict[str, Any]  # the expression context; ``steps`` grows as steps finish
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # step records this node produced
    journal: list[dict[str, Any]] = field(default_factory=list)  # completed reversible actions
    prefix: str = ""  # "<subflow step>/" for the steps of a subflow
    depth: int = 0

    @property
    def run_id(self) -> str:
        """The run id (thread id of the checkpoint)."""
        return str(self.run["id"])

    @property
    def log(self) -> RunLogger:
        """The run's logger (bound to its Remediation)."""
        return run_logger(self.run)

    @property
    def step_timeout(self) -> float:
        """The template's default per-attempt timeout in seconds."""
        return float(self.run["stepTimeout"])

    def child(self, **changes: Any) -> Scope:
        """A scope sharing records and journal, with some fields replaced."""
        return dataclasses.replace(self, **changes)

    def action_context(self) -> ActionContext:
        """What an action receives: the client, dry-run and the namespace it is confined to."""
        return ActionContext(
            kube=self.deps.kube,
            dry_run=bool(self.run.get("dryRun")) or self.deps.global_dry_run or self.deps.effects.dry_run,
            remediation=str(self.run.get("remediation", "")),
            owner=self.run.get("owner"),
            allowed_namespace=self.run.get("namespace"),
            permitted_namespaces=frozenset(self._safety().get("allowedNamespaces") or ()),
            denied_namespaces=frozenset(self._safety().get("deniedNamespaces") or ()),
        )

    def _safety(self) -> Mapping[str, Any]:
        """The run's own template's safety rules (a subflow's steps obey the template the run started with)."""
        template = self.run.get("template") or {}
        safety: Mapping[str, Any] = template.get("safety") or {}
        return safety

    async def first_reached(self, what: str) -> float:
        """Epoch seconds when this run first reached ``what`` (a step path), recorded durably on the first call.

        A wait that resumes after a restart waits only for what is left of it.
        """
        key = f"{idempotency_key(self.run_id, what)}:reached"
        found = await self.deps.journal.get(run_id=self.run_id, key=key)
        if found is not None:
            return float(found["at"])
        now = self.deps.clock().timestamp()
        await self.deps.journal.put(run_id=self.run_id, key=key, value={"at": now})
        return now

    async def report(self, record: dict[str, Any]) -> None:
        """Keep ``record`` for the checkpoint and tell the sink."""
        self.records[record["name"]] = record
        await self.deps.sink.step(run_id=self.run_id, step=StepProgress.from_record(record))

    def cancelled(self) -> bool:
        """True when a cancellation of this run is pending."""
        return self.deps.cancels.get(self.run_id) is not None

    async def pause(self, seconds: float) -> None:
        """Sleep, but raise :class:`RunCancelled` as soon as the run is cancelled."""
        event = self.deps.cancels.event(self.run_id)
        if event.is_set():
            raise RunCancelled("the run was cancelled")
        stop_draining(self.deps)
        waiter = asyncio.ensure_future(self.deps.sleep(max(seconds, 0.0)))
        cancel = asyncio.ensure_future(event.wait())
        drain = asyncio.ensure_future(self.deps.draining.wait())
        try:
            await asyncio.wait({waiter, cancel, drain}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, cancel, drain):
                task.cancel()
        if event.is_set():
            raise RunCancelled("the run was cancelled")
        stop_draining(self.deps)
