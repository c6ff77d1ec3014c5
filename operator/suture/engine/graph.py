"""Compile a template into a LangGraph ``StateGraph``: one node (``step/<name>``) per top-level step.

Every step node runs its step and writes ``route``, the node to run next:
the step's successor in the flow (fall-through, ``next``, a condition's
``then``/``else``), ``__rollback__`` when a failure asks for a rollback, or
the end. ``__finish__`` marks a run that reached the end Succeeded;
``__approval__`` is the gate of ``safety.requiresApproval``. Each node checks
at its start (a step boundary) whether the run was cancelled or ran out of its
workflow time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END as GRAPH_END
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from suture.api import END, ApprovalStep, Step, WorkflowTemplateSpec
from suture.engine import gitops
from suture.engine.execute import ask_approval, execute_step
from suture.engine.outcome import CANCELLED_CATEGORY, StepResult
from suture.engine.rollback import undo_entries, unfinished_intents
from suture.engine.scope import RunDeps, Scope, stop_draining
from suture.engine.state import (
    APPROVAL_GATE,
    CANCELLED,
    FAILED,
    FINISH,
    PAUSED,
    ROLLBACK,
    ROLLED_BACK,
    RUNNING,
    SUCCEEDED,
    RunState,
    cel_context,
    now_iso,
    step_record,
)
from suture.flow import Flow, build_flow, first_step, stops_run, successor
from suture.logs import run_logger

GATE_RECORD = "safety.requiresApproval"
NODE_PREFIX = "step/"  # node ids are "step/<name>", so no step name can collide with a state key


def node_id(step_name: str) -> str:
    """The graph node that runs top-level step ``step_name``."""
    return NODE_PREFIX + step_name


Node = Callable[[RunState], Awaitable[dict[str, Any]]]


def _scope(state: RunState, deps: RunDeps, spec: WorkflowTemplateSpec) -> Scope:
    return Scope(deps=deps, run=state["run"], spec=spec, context=cel_context(state), journal=list(state["journal"]))


async def _restored(state: RunState, deps: RunDeps, message: str) -> str:
    """``message`` with what restoring the run's paused GitOps controllers did (before the final report)."""
    if not state["run"].get("gitops"):
        return message
    words = await gitops.restore(state["run"], deps)
    return f"{message}; {words}" if words else message


async def _end(state: RunState, deps: RunDeps, phase: str, message: str) -> dict[str, Any]:
    """Stop the run in ``phase`` now (no rollback); paused GitOps controllers are restored first."""
    message = await _restored(state, deps, message)
    log = run_logger(state["run"])
    (log.info if phase == SUCCEEDED else log.warning)("run %s: %s", phase, message)
    await deps.sink.run_phase(run_id=state["run"]["id"], phase=phase, message=message, undone=state.get("undone", []))
    return {"phase": phase, "message": message, "route": GRAPH_END}


async def _stop(state: RunState, deps: RunDeps, *, phase: str, message: str, rollback: bool) -> dict[str, Any]:
    """End the run in ``phase``, after undoing the journal when ``rollback`` and there is something to undo."""
    if rollback:  # even with an empty journal: a crash may have left an intent only the journal of effects knows
        return {"final_phase": phase, "message": message, "route": ROLLBACK}
    return await _end(state, deps, phase, message)


async def _target_replaced(target: Mapping[str, Any], deps: RunDeps) -> str:
    """A message when the run's target was deleted or replaced (another UID) since the run started, else ""."""
    meta = target.get("metadata") or {}
    uid, kind, name = meta.get("uid"), target.get("kind"), meta.get("name")
    if not (uid and kind and name) or deps.effects.dry_run:
        return ""
    where = f"{kind} {meta['namespace']}/{name}" if meta.get("namespace") else f"{kind} {name}"
    live = await deps.kube.get_or_none(
        str(kind), str(name), meta.get("namespace"), api_version=target.get("apiVersion")
    )
    if live is None:
        return f"the target {where} was deleted since the run started; nothing more is done"
    if (live.get("metadata") or {}).get("uid") != uid:
        return f"the target {where} was replaced (new uid) since the run started; the new object is not touched"
    return ""


async def _pause(state: RunState, deps: RunDeps, here: str) -> dict[str, Any]:
    """Stop the run before node ``here``, Paused: the graph ends, and :meth:`Engine.unpause` routes back to it.

    Nothing is undone and nothing is lost: the checkpoint written after this
    node holds the phase and where to continue, so a restart keeps the pause.
    """
    label = here.removeprefix(NODE_PREFIX)
    message = f"paused before step {label}"
    run_logger(state["run"]).info("run %s: %s", PAUSED, message)
    await deps.sink.run_phase(run_id=state["run"]["id"], phase=PAUSED, message=message, undone=state.get("undone", []))
    return {"phase": PAUSED, "message": message, "route": GRAPH_END, "resume_at": here}


async def _boundary(state: RunState, deps: RunDeps, here: str) -> dict[str, Any] | None:
    """A step boundary before node ``here``: stop for a pending cancellation, a pause, or an exhausted
    workflow timeout."""
    run = state["run"]
    stop_draining(deps)
    request = deps.cancels.get(run["id"])
    if request is not None:
        return await _stop(state, deps, phase=CANCELLED, message="cancelled on request", rollback=request.rollback)
    if run["id"] in deps.pauses:
        deps.pauses.discard(run["id"])
        return await _pause(state, deps, here)
    if run["id"] in deps.recheck_target:
        deps.recheck_target.discard(run["id"])
        replaced = await _target_replaced(run.get("target") or {}, deps)
        if replaced:
            # Never act on (or undo onto) a different object that took the old one's name.
            return await _end(state, deps, FAILED, replaced)
    if time.time() - float(run["startedAt"]) > float(run["workflowTimeout"]):
        # Like a failure that asks for rollback: what the run changed so far is undone, and the run has Failed.
        message = f"the run exceeded its workflow timeout of {run['workflowTimeoutText']}"
        return await _stop(state, deps, phase=FAILED, message=message, rollback=True)
    return None


async def _after_failure(
    state: RunState, deps: RunDeps, step_name: str, policy: str, result: StepResult, *, here: str
) -> Any:
    """Apply ``onFailure`` to a failed step (approval failures and cancellations never ``continue``).

    A run that ends Failed without undoing anything can be retried from node
    ``here`` (``resume_at``): the steps before it and their undo data are kept.
    """
    request = deps.cancels.get(state["run"]["id"])
    if request is not None or result.category == CANCELLED_CATEGORY:
        rollback = request.rollback if request is not None else policy == "rollback"
        return await _stop(state, deps, phase=CANCELLED, message="cancelled on request", rollback=rollback)
    message = f"step {step_name} failed: {result.message}"
    if result.category == "rejected":
        return await _stop(
            state,
            deps,
            phase=ROLLED_BACK if policy == "rollback" else CANCELLED,
            message=message,
            rollback=policy == "rollback",
        )
    if policy == "rollback":
        return await _stop(state, deps, phase=ROLLED_BACK, message=message, rollback=True)
    return {**await _end(state, deps, FAILED, message), "resume_at": here}


def _next_node(step: Step, flow: Flow, result: StepResult) -> str:
    """The node after ``step`` as the flow model decides it (the end is the finish node)."""
    after = successor(flow, step.name, branch=result.branch)
    return FINISH if after == END else node_id(after)


def _step_node(step: Step, spec: WorkflowTemplateSpec, flow: Flow, deps: RunDeps) -> Node:
    async def node(state: RunState) -> dict[str, Any]:
        stop = await _boundary(state, deps, node_id(step.name))
        if stop is not None:
            return stop
        if state["run"].get("gitops"):
            # Paused before the first step that may act (not while an approval gate waits); journaled, so once.
            blocked = await gitops.suspend(state["run"], deps)
            if blocked:
                return await _end(state, deps, FAILED, blocked)
        scope = _scope(state, deps, spec)
        result = await execute_step(step, scope)
        update: dict[str, Any] = {"steps": scope.records, "journal": scope.journal}
        state = {**state, "journal": scope.journal}
        if not stops_run(step, failed=result.failed) and deps.cancels.get(state["run"]["id"]) is None:
            update["route"] = _next_node(step, flow, result)
            return update
        return {
            **update,
            **await _after_failure(state, deps, step.name, step.on_failure, result, here=node_id(step.name)),
        }

    node.__name__ = f"step_{step.name}"
    return node


def _gate_node(spec: WorkflowTemplateSpec, first: str, deps: RunDeps) -> Node:
    async def gate(state: RunState) -> dict[str, Any]:
        stop = await _boundary(state, deps, APPROVAL_GATE)
        if stop is not None:
            return stop
        scope = _scope(state, deps, spec)
        record = step_record(GATE_RECORD, RUNNING, startTime=now_iso(), kind="approval")
        await scope.report(record)
        ask = ApprovalStep(message=spec.description or "run this remediation?", timeout="1h")
        result = await ask_approval(ask, scope, GATE_RECORD)
        record.update(phase=result.phase, endTime=now_iso(), message=result.message, output=result.output, attempts=1)
        await scope.report(record)
        update: dict[str, Any] = {"steps": scope.records, "approval": result.output}
        if result.failed:
            return {**update, **await _after_failure(state, deps, GATE_RECORD, "abort", result, here=APPROVAL_GATE)}
        return {**update, "route": first}

    return gate


def _rollback_node(deps: RunDeps, spec: WorkflowTemplateSpec) -> Node:
    async def rollback(state: RunState) -> dict[str, Any]:
        scope = _scope(state, deps, spec)
        interrupted = await unfinished_intents(state["journal"], journal=deps.journal, run_id=state["run"]["id"])
        entries = list(reversed([*state["journal"], *interrupted]))
        scope.log.warning("rolling back %d change(s): %s", len(entries), ", ".join(str(e["label"]) for e in entries))
        undone, errors = await undo_entries(entries, scope=scope)
        records: dict[str, dict[str, Any]] = {}
        done = set(undone)
        for entry in entries:
            name = str(entry["record"])
            record = dict(state.get("steps", {}).get(name) or step_record(name, ROLLED_BACK))
            labels = [str(e["label"]) for e in entries if e["record"] == name]
            if all(label in done for label in labels) and record.get("phase") != ROLLED_BACK:
                record.update(phase=ROLLED_BACK, message=f"{record.get('message', '')} (undone)".strip())
                records[name] = record
                await scope.report(record)
        phase = str(state.get("final_phase") or ROLLED_BACK)
        message = str(state.get("message", ""))
        message += f"; undid {', '.join(undone) or 'nothing'}"
        if errors:
            phase, message = FAILED, f"{message}; rollback incomplete: {'; '.join(errors)}"
        message = await _restored(state, deps, message)  # after the undo: the controller resumes on the old state
        scope.log.warning("run %s: %s", phase, message)
        all_undone = [*state.get("undone", []), *undone]
        remaining = [e for e in state["journal"] if e["label"] not in done]
        await deps.sink.run_phase(run_id=state["run"]["id"], phase=phase, message=message, undone=all_undone)
        return {"phase": phase, "message": message, "undone": all_undone, "journal": remaining, "steps": records}

    return rollback


def _finish_node(deps: RunDeps) -> Node:
    async def finish(state: RunState) -> dict[str, Any]:
        failed = [n for n, r in state.get("steps", {}).items() if r.get("phase") == FAILED]
        message = "all steps done" + (f" (failed but continued: {', '.join(failed)})" if failed else "")
        return await _end(state, deps, SUCCEEDED, message)

    return finish


async def _route(state: RunState) -> str:
    # Async on purpose: LangGraph runs a synchronous path function in a worker thread, a hop per step.
    return str(state.get("route") or GRAPH_END)


def build_graph(*, spec: WorkflowTemplateSpec, deps: RunDeps) -> StateGraph[RunState]:
    """The (uncompiled) graph of ``spec``; the steps' services come from ``deps``."""
    flow = build_flow(spec.steps)
    first = first_step(flow)
    if first == END:
        raise ValueError("the template has no top-level step")
    graph: StateGraph[RunState] = StateGraph(RunState)
    routed: list[str] = []
    for name in flow.top_level:
        step = spec.step(name)
        assert step is not None
        graph.add_node(node_id(name), cast(Any, _step_node(step, spec, flow, deps)))
        routed.append(node_id(name))
    if spec.safety.requires_approval:
        graph.add_node(APPROVAL_GATE, cast(Any, _gate_node(spec, node_id(first), deps)))
        routed.append(APPROVAL_GATE)
        graph.add_edge(START, APPROVAL_GATE)
    else:
        graph.add_edge(START, node_id(first))
    graph.add_node(ROLLBACK, cast(Any, _rollback_node(deps, spec)))
    graph.add_node(FINISH, cast(Any, _finish_node(deps)))
    destinations = [*routed, ROLLBACK, FINISH, GRAPH_END]  # a node may route to itself: pause, retry
    for name in routed:
        graph.add_conditional_edges(name, _route, destinations)
    graph.add_edge(ROLLBACK, GRAPH_END)
    graph.add_edge(FINISH, GRAPH_END)
    return graph


def compile_graph(
    *, spec: WorkflowTemplateSpec, deps: RunDeps, checkpointer: BaseCheckpointSaver[Any] | None
) -> CompiledStateGraph[RunState]:
    """The runnable graph of ``spec``, checkpointed by ``checkpointer``."""
    return build_graph(spec=spec, deps=deps).compile(checkpointer=checkpointer)
