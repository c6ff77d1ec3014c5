"""The engine: start, resume, approve and cancel runs; at most N at once, the rest queued in order.

A run is identified by the caller's run id (the Remediation UID), which is
also the LangGraph thread id of its checkpoints. The checkpoint holds the
template, the context and every step's record, so :meth:`Engine.resume` and
:meth:`Engine.resume_all` need nothing but the checkpointer after a restart.
Calls on one run are serialised; a run paused for approval holds no slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from suture.actions import Registry
from suture.api import WorkflowTemplateSpec, parse_duration
from suture.engine.conditions import PromQLClient
from suture.engine.journal import EffectJournal, MemoryJournal
from suture.engine.limiter import FifoLimiter
from suture.engine.progress import ApprovalDecision, BestEffortSink, NullSink, ProgressSink, StepProgress
from suture.engine.scope import RunDeps, TemplateSource
from suture.engine.state import FAILED, PAUSED, RUNNING, TERMINAL, WAITING_APPROVAL, RunState, now_iso
from suture.engine.subflow import snapshot_subflows

if TYPE_CHECKING:  # the graph runtime is imported on first use (see suture.engine)
    from langgraph.graph.state import CompiledStateGraph
from suture.errors import ApprovalNotPending, InvalidError
from suture.kube import KubeClient
from suture.logs import mark_stage

DECISIONS = ("Approved", "Rejected")
REPORTS_CLOSE_TIMEOUT = 5.0  # seconds closing waits for status reports still being written


_runtime_loaded = False


async def load_graph_runtime() -> None:
    """Import LangGraph's graph runtime in a worker thread the first time a run needs it.

    It is left out of start-up to keep an idle operator small (see
    :mod:`suture.engine`); importing it costs about a CPU-second, which on the
    event loop would stall the webhook and every other run meanwhile. Every
    caller waits until the import has finished, not only the first: the
    module is in ``sys.modules`` while the worker still initialises it, and
    touching it from the loop then would block the loop on its import lock
    (concurrent callers wait in worker threads, on that lock). Later calls
    return at once.
    """
    global _runtime_loaded
    if not _runtime_loaded:
        await asyncio.to_thread(importlib.import_module, "suture.engine.graph")
        _runtime_loaded = True


@dataclass(frozen=True)
class RunRequest:
    """Everything a new run needs."""

    run_id: str
    template: WorkflowTemplateSpec
    alert: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] | None = None  # the resolved target object (or an ObjectRef-shaped dict)
    variables: Mapping[str, Any] = field(default_factory=dict)  # overrides of the template's variables
    dry_run: bool = False  # the Remediation's dryRun (the template's and the engine's are ORed in)
    namespace: str | None = None  # a namespaced template's namespace: actions are confined to it
    remediation: str = ""  # namespace/name, passed to actions
    owner: dict[str, Any] | None = None  # ownerReference of the Remediation, passed to actions
    # GitOps controllers to pause for the run (``gitops: suspend``): kind, apiVersion, namespace, name.
    gitops: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class PendingApproval:
    """A run paused for a person's decision."""

    step: str
    message: str
    deadline: float  # epoch seconds; an answer after it counts as a timeout
    id: str = ""  # names this very question (the step, or ``<rollout>@wave<N>``): an answer must name it


@dataclass(frozen=True)
class RunOutcome:
    """Where a run stands after a call returned."""

    run_id: str
    phase: str
    message: str
    steps: dict[str, dict[str, Any]]
    undone: list[str]
    approval: PendingApproval | None = None
    resume_at: str = ""  # the node a Paused run continues at, or a Failed run can be retried from
    attempt: int = 1  # 1, then one more per retry

    @property
    def retry_step(self) -> str | None:
        """The step a Failed run would be retried from; None when it cannot be retried (not Failed, or
        it failed outside a step: a rollback, a replaced target, the workflow timeout)."""
        if self.phase != FAILED or not self.resume_at:
            return None
        return self.resume_at.removeprefix("step/")

    @property
    def finished(self) -> bool:
        """True once the run reached a terminal phase."""
        return self.phase in TERMINAL


def initial_state(request: RunRequest, *, global_dry_run: bool = False) -> RunState:
    """The first checkpoint of a run."""
    spec = request.template
    run = {
        "id": request.run_id,
        "template": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "alert": dict(request.alert),
        "target": dict(request.target or {}),
        "vars": {**spec.variables, **request.variables},
        "dryRun": spec.safety.dry_run or request.dry_run or global_dry_run,
        "namespace": request.namespace,
        "remediation": request.remediation,
        "owner": request.owner,
        "gitops": [dict(ref) for ref in request.gitops],
        "startedAt": time.time(),
        "stepTimeout": parse_duration(spec.timeouts.step),
        "workflowTimeout": parse_duration(spec.timeouts.workflow),
        "workflowTimeoutText": spec.timeouts.workflow,
    }
    return {"run": run, "steps": {}, "journal": [], "phase": RUNNING, "message": "", "undone": []}


class Engine:
    """Runs templates as checkpointed LangGraph graphs."""

    def __init__(
        self,
        *,
        registry: Registry,
        kube: KubeClient,
        checkpointer: BaseCheckpointSaver[Any],
        sink: ProgressSink | None = None,
        promql: PromQLClient | None = None,
        templates: TemplateSource | None = None,
        max_concurrent_runs: int = 10,
        dry_run: bool = False,
        journal: EffectJournal | None = None,
    ) -> None:
        """``journal`` records each action call's intent and result durably (exactly-once across crashes);
        give a durable one wherever runs outlive the process (the in-memory default does not)."""
        self._reports = BestEffortSink(sink or NullSink())
        self.deps = RunDeps(
            registry=registry,
            kube=kube,
            sink=self._reports,
            promql=promql,
            templates=templates,
            global_dry_run=dry_run,
            journal=journal or MemoryJournal(),
        )
        self.checkpointer = checkpointer
        self.limiter = FifoLimiter(max_concurrent_runs)
        self._locks: dict[str, asyncio.Lock] = {}
        self._timers: dict[str, asyncio.Task[Any]] = {}
        self._graphs: OrderedDict[str, CompiledStateGraph[RunState]] = OrderedDict()

    # -- public API ------------------------------------------------------------------------

    async def start(self, *, request: RunRequest) -> RunOutcome:
        """Run a new run until it ends or waits for approval; a run id seen before is resumed instead."""
        await load_graph_runtime()
        if await self.checkpointer.aget_tuple(self._config(request.run_id)) is not None:
            return await self.resume(run_id=request.run_id)
        state = initial_state(request, global_dry_run=self.deps.global_dry_run)
        state["run"]["subflows"] = await snapshot_subflows(
            request.template, source=self.deps.templates, namespace=request.namespace
        )
        self._graph(state["run"]["template"], request.template)  # compiled from the typed spec: no second parse
        return await self._invoke(request.run_id, state["run"]["template"], state)

    def submit(self, *, request: RunRequest) -> asyncio.Task[RunOutcome]:
        """:meth:`start` in a background task (queued behind the concurrency limit)."""
        return asyncio.create_task(self.start(request=request), name=f"suture-run-{request.run_id}")

    async def resume(self, *, run_id: str) -> RunOutcome:
        """Continue ``run_id`` from its last checkpoint (KeyError when there is none).

        A finished run only re-reports its final phase; a run waiting for
        approval re-reports that and re-arms its approval timeout.
        """
        template = await self._template_of(run_id)
        outcome = await self.snapshot(run_id=run_id)
        assert outcome is not None
        if outcome.finished:
            await self.deps.sink.run_phase(
                run_id=run_id, phase=outcome.phase, message=outcome.message, undone=outcome.undone
            )
            return outcome
        if outcome.approval is not None:
            await self._announce_wait(run_id, outcome.approval)
            return outcome
        if outcome.phase == PAUSED:  # stays paused until unpause(): only re-report it
            await self.deps.sink.run_phase(run_id=run_id, phase=PAUSED, message=outcome.message, undone=outcome.undone)
            return outcome
        return await self._invoke(run_id, template, None)

    def pause(self, *, run_id: str) -> None:
        """Ask ``run_id`` to pause at its next step boundary (phase Paused; nothing undone).

        A run waiting for approval keeps waiting and pauses at the boundary after it.
        The request lives in memory until the boundary: after a restart, ask again.
        """
        self.deps.pauses.add(run_id)

    def withdraw_pause(self, *, run_id: str) -> None:
        """Drop a pause request the run has not reached yet (a Paused run stays Paused)."""
        self.deps.pauses.discard(run_id)

    async def unpause(self, *, run_id: str) -> RunOutcome | None:
        """Drop a pending pause request; a Paused run continues at the step it stopped before.

        Returns the run's outcome after it ran on (a Paused run), else its latest
        checkpoint untouched (None when there is none): a run that is not Paused
        is never invoked here, so a run already going is not driven twice.
        """
        await load_graph_runtime()
        self.deps.pauses.discard(run_id)
        outcome = await self.snapshot(run_id=run_id)
        if outcome is None or outcome.phase != PAUSED:
            return outcome  # not under the run's lock: a running run holds it until it stops
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            outcome = await self.snapshot(run_id=run_id)  # again: another unpause may have won
            if outcome is None or outcome.phase != PAUSED:
                return outcome
            template = await self._template_of(run_id)
            update = {"phase": RUNNING, "message": "resumed", "route": outcome.resume_at, "resume_at": ""}
            await self._graph(template).aupdate_state(self._config(run_id), update, as_node=outcome.resume_at)
        return await self._invoke(run_id, template, None)

    async def retry(self, *, run_id: str, attempt: int) -> RunOutcome:
        """Run a Failed run again from the step that failed, as attempt number ``attempt`` (2 for the first retry).

        The steps that succeeded before it are not run again, and their undo
        data stays in the run's journal (a later rollback still undoes them).
        The workflow timeout counts from the retry. Idempotent: when the run
        already is at ``attempt`` or later, it is only resumed (a restart
        between the retry and its status). Raises InvalidError when the run
        cannot be retried (see :attr:`RunOutcome.retry_step`), KeyError when
        there is no such run. Call it only while no other call drives this run.
        """
        await load_graph_runtime()
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            outcome = await self.snapshot(run_id=run_id)
            if outcome is None:
                raise KeyError(f"no run {run_id!r} in the checkpointer")
            if outcome.attempt < attempt:
                if outcome.retry_step is None:
                    raise InvalidError(
                        f"run {run_id!r} is {outcome.phase}: only a run that Failed at a step, with nothing "
                        "rolled back, can be retried"
                    )
                tup = await self.checkpointer.aget_tuple(self._config(run_id))
                assert tup is not None
                run = {**tup.checkpoint["channel_values"]["run"], "startedAt": time.time()}
                update = {
                    "phase": RUNNING,
                    "message": f"attempt {attempt}: retrying from step {outcome.retry_step}",
                    "route": outcome.resume_at,
                    "resume_at": "",
                    "attempt": attempt,
                    "run": run,
                }
                template = await self._template_of(run_id)
                await self._graph(template).aupdate_state(self._config(run_id), update, as_node=outcome.resume_at)
        return await self.resume(run_id=run_id)

    async def resume_all(self) -> list[RunOutcome]:
        """Resume every unfinished run in the checkpointer (concurrently, under the limit)."""
        run_ids: list[str] = []
        async for item in self.checkpointer.alist(None):
            thread = str(item.config["configurable"]["thread_id"])
            if item.config["configurable"].get("checkpoint_ns", "") == "" and thread not in run_ids:
                run_ids.append(thread)
        unfinished = []
        for run_id in run_ids:
            tup = await self.checkpointer.aget_tuple(self._config(run_id))
            if tup is not None and tup.checkpoint["channel_values"].get("phase") not in TERMINAL:
                unfinished.append(run_id)
        return list(await asyncio.gather(*(self.resume(run_id=r) for r in unfinished)))

    async def approve(
        self, *, run_id: str, decision: str, by: str = "", reason: str = "", approval_id: str | None = None
    ) -> RunOutcome:
        """Answer a pending approval with ``Approved`` or ``Rejected``; an answer past the deadline is a timeout.

        With ``approval_id`` the answer is for that question only: ApprovalNotPending
        when the run waits for another one (a stale answer never passes a later gate).
        Raises InvalidError for any other decision, ApprovalNotPending when the
        run is not waiting for an approval.
        """
        if decision not in DECISIONS:
            raise InvalidError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        return await self._answer(run_id, {"decision": decision, "by": by, "reason": reason}, approval_id=approval_id)

    async def cancel(self, *, run_id: str, rollback: bool = False) -> RunOutcome | None:
        """Stop ``run_id`` at its next step boundary (a wait or approval stops at once), undoing if asked.

        Returns the run's state after a paused run was ended, else the latest
        checkpoint (the running call returns the final outcome).
        """
        self.deps.cancels.request(run_id, rollback=rollback)
        outcome = await self.snapshot(run_id=run_id)
        if outcome is not None and outcome.approval is not None:
            return await self._answer(run_id, {"decision": "Cancelled", "by": "", "reason": "cancelled"})
        if outcome is not None and outcome.phase == PAUSED:
            return await self.unpause(run_id=run_id)  # its next boundary is at once, and the cancel wins there
        return outcome

    async def snapshot(self, *, run_id: str) -> RunOutcome | None:
        """The run's state from its latest checkpoint, or None when it does not exist."""
        await load_graph_runtime()
        tup = await self.checkpointer.aget_tuple(self._config(run_id))
        if tup is None:
            return None
        graph = self._graph(_run_settings(tup.checkpoint)["template"])
        snap = await graph.aget_state(self._config(run_id))
        values: Mapping[str, Any] = snap.values
        approval = None
        for pending in snap.interrupts:
            value = pending.value
            if isinstance(value, dict) and value.get("kind") == "approval":
                approval = PendingApproval(
                    step=str(value["step"]),
                    message=str(value.get("message", "")),
                    deadline=float(value["deadline"]),
                    id=str(value.get("id") or value["step"]),
                )
                break
        phase = str(values.get("phase") or RUNNING)
        if approval is not None and phase not in TERMINAL:
            phase = WAITING_APPROVAL
        return RunOutcome(
            run_id=run_id,
            phase=phase,
            message=str(values.get("message", "")),
            steps=dict(values.get("steps", {})),
            undone=list(values.get("undone", [])),
            approval=approval,
            resume_at=str(values.get("resume_at") or ""),
            attempt=int(values.get("attempt") or 1),
        )

    def drain(self) -> None:
        """Ask every run to stop at its next checkpoint (a step boundary, or at once in a wait), unfinished.

        Its task then ends cancelled, its checkpoint and journal intact; :meth:`resume` (here after a
        restart, or on the replica that leads next) continues it from there. For shutting down.
        """
        self.deps.draining.set()

    async def aclose(self) -> None:
        """Cancel the approval timers and let pending status reports land (runs stay checkpointed)."""
        timers = list(self._timers.values())
        self._timers.clear()
        for task in timers:
            task.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        await self._reports.aclose(timeout=REPORTS_CLOSE_TIMEOUT)

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _config(run_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": run_id}}

    def _graph(
        self, template: Mapping[str, Any], spec: WorkflowTemplateSpec | None = None
    ) -> CompiledStateGraph[RunState]:
        """The compiled graph of a checkpointed template; ``spec`` is its typed form when the caller has it.

        A new run passes the model it was given, so the template is not parsed
        again; only a run resumed from its checkpoint (JSON) is parsed here.
        """
        key = json.dumps(template, sort_keys=True)
        graph = self._graphs.get(key)
        if graph is None:
            from suture.engine.graph import compile_graph  # lazily: see suture.engine

            spec = spec or WorkflowTemplateSpec.model_validate(template)
            graph = compile_graph(spec=spec, deps=self.deps, checkpointer=self.checkpointer)
            self._graphs[key] = graph
            while len(self._graphs) > 64:
                self._graphs.popitem(last=False)
        self._graphs.move_to_end(key)
        return graph

    async def _template_of(self, run_id: str) -> dict[str, Any]:
        tup = await self.checkpointer.aget_tuple(self._config(run_id))
        if tup is None:
            raise KeyError(f"no run {run_id!r} in the checkpointer")
        template: dict[str, Any] = _run_settings(tup.checkpoint)["template"]
        return template

    async def _answer(self, run_id: str, answer: dict[str, Any], *, approval_id: str | None = None) -> RunOutcome:
        outcome = await self.snapshot(run_id=run_id)
        if outcome is None or outcome.approval is None:
            raise ApprovalNotPending(f"run {run_id!r} is not waiting for approval")
        if approval_id is not None and approval_id != outcome.approval.id:
            raise ApprovalNotPending(f"run {run_id!r} waits for approval {outcome.approval.id!r}, not {approval_id!r}")
        if answer["decision"] == "Approved" and time.time() > outcome.approval.deadline:
            answer = {**answer, "decision": "Timeout"}
        timer = self._timers.pop(run_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        answer["at"] = now_iso()
        from langgraph.types import Command  # lazily: see suture.engine

        return await self._invoke(run_id, await self._template_of(run_id), Command(resume=answer))

    async def _expire(self, run_id: str, deadline: float) -> None:
        await asyncio.sleep(max(deadline - time.time(), 0.0))
        with contextlib.suppress(ApprovalNotPending):
            await self._answer(run_id, {"decision": "Timeout", "by": "", "reason": "approval timed out"})

    async def _announce_wait(self, run_id: str, approval: PendingApproval) -> None:
        sink = self.deps.sink
        # The question first: whoever sees the phase WaitingApproval finds which approval to answer.
        asked = ApprovalDecision(step=approval.id, decision="Pending", reason=approval.message, at=now_iso())
        await sink.approval(run_id=run_id, decision=asked)
        await sink.step(
            run_id=run_id, step=StepProgress(name=approval.step, phase=WAITING_APPROVAL, message=approval.message)
        )
        await sink.run_phase(
            run_id=run_id, phase=WAITING_APPROVAL, message=f"waiting for approval of {approval.id}", undone=[]
        )
        if run_id not in self._timers:
            self._timers[run_id] = asyncio.create_task(self._expire(run_id, approval.deadline))

    async def _invoke(self, run_id: str, template: Mapping[str, Any], payload: Any) -> RunOutcome:
        await load_graph_runtime()
        from langgraph.errors import NodeCancelledError  # lazily: see suture.engine
        from langgraph.types import Command

        if payload is None or isinstance(payload, Command):
            self.deps.recheck_target.add(run_id)  # continuing: time passed, the target may have been replaced
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            graph = self._graph(template)
            async with self.limiter.slot():
                await self.deps.sink.run_phase(run_id=run_id, phase=RUNNING, message="running", undone=[])
                mark_stage("invoked", run_id)
                try:
                    await graph.ainvoke(payload, self._config(run_id), durability="sync")
                except NodeCancelledError as exc:
                    if not self.deps.draining.is_set():
                        raise
                    # LangGraph reports a node's own CancelledError as an error; draining, it is the
                    # stop at a checkpoint that stop_draining asked for: end this task as cancelled.
                    raise asyncio.CancelledError("the engine drains") from exc
                finally:
                    await self._reports.flush(run_id)  # the caller reads the status this call reported
            outcome = await self.snapshot(run_id=run_id)
            assert outcome is not None
        if outcome.approval is not None:
            await self._announce_wait(run_id, outcome.approval)
        if outcome.finished:
            self.deps.cancels.forget(run_id)
            self._locks.pop(run_id, None)
            await self.deps.journal.forget(run_id=run_id)  # a finished run is never replayed or rolled back
        return outcome


def _run_settings(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    """The run's static settings (``RunState["run"]``) from a checkpoint.

    A run's first checkpoint (LangGraph's ``input`` one) still holds the whole
    state in the ``__start__`` channel; a process killed right after it must
    find the settings there, or the run could never be resumed.
    """
    values = checkpoint["channel_values"]
    run: Mapping[str, Any] = values["run"] if "run" in values else values["__start__"]["run"]
    return run
