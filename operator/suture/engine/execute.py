"""Run one step of any kind: guard, attempts, record, output into the context.

Failures come back as a failed :class:`StepResult`; only LangGraph
interrupts (approval) and asyncio task cancellation propagate as exceptions.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from suture.api import ApprovalStep, Check, ConditionStep, Step, WaitStep, parse_duration
from suture.engine.actioncall import call_action
from suture.engine.conditions import eval_guard, evaluate_check
from suture.engine.effects import Verdict
from suture.engine.fanout import run_foreach, run_parallel
from suture.engine.outcome import CANCELLED_CATEGORY, StepResult
from suture.engine.progress import ApprovalDecision
from suture.engine.retry import with_retry
from suture.engine.rollout import run_rollout
from suture.engine.scope import Scope
from suture.engine.state import FAILED, RUNNING, SKIPPED, SUCCEEDED, now_iso, step_record
from suture.engine.subflow import run_subflow
from suture.errors import ErrorCategory, InvalidError, RunCancelled, StepFailed, SutureError, category_of, describe
from suture.flow import build_flow, only_on_branch, successor


async def execute_step(step: Step, scope: Scope, *, name: str | None = None) -> StepResult:
    """Run ``step`` once through its guard, retries and timeout; report every transition to the sink."""
    from langgraph.errors import GraphBubbleUp  # lazily: see suture.engine

    key = name or step.name
    display = scope.prefix + key
    record = step_record(display, RUNNING, startTime=now_iso(), kind=step.kind)
    if step.when:
        try:
            if not eval_guard(step.when, scope.context):
                return await _finish(scope, key, record, StepResult(display, SKIPPED, f"skipped: {step.when} is false"))
        except SutureError as exc:
            return await _finish(scope, key, record, StepResult(display, FAILED, str(exc), category=exc.category))
    await scope.report(record)
    scope.log.for_step(display).info("started (%s)", step.kind)

    async def on_attempt(number: int) -> None:
        if number != record["attempts"]:
            record["attempts"] = number
            await scope.report(record)

    try:
        result = await _dispatch(step, scope, display, on_attempt)
    except GraphBubbleUp:
        raise
    except asyncio.CancelledError:
        record.update(phase=FAILED, endTime=now_iso(), message="stopped because another step failed")
        await scope.report(record)
        raise
    except RunCancelled:
        result = StepResult(display, FAILED, "cancelled while running", category=CANCELLED_CATEGORY)
    except StepFailed as exc:
        result = StepResult(display, FAILED, exc.message, attempts=exc.attempts, category=str(exc.category))
    except Exception as exc:  # a SutureError has its category; anything else is a bug, reported as failed
        result = StepResult(display, FAILED, describe(exc), category=str(category_of(exc)))
    result.attempts = max(result.attempts, record["attempts"], 1)
    return await _finish(scope, key, record, result)


async def _finish(scope: Scope, key: str, record: dict[str, Any], result: StepResult) -> StepResult:
    record.update(
        phase=result.phase,
        attempts=result.attempts,
        endTime=now_iso(),
        message=result.message,
        output=result.output,
    )
    scope.context["steps"][key] = {"output": result.output, "phase": result.phase}
    await scope.report(record)
    log = scope.log.for_step(str(record["name"]))
    if result.failed:
        log.warning("failed after %d attempt(s) (%s): %s", result.attempts, result.category or "failed", result.message)
    else:
        log.info("%s: %s", result.phase.lower(), result.message)
    return result


def _timeout(step: Step, scope: Scope) -> float:
    return parse_duration(step.timeout) if step.timeout else scope.step_timeout


async def _dispatch(step: Step, scope: Scope, display: str, on_attempt: Any) -> StepResult:
    if step.action is not None:
        result, attempts = await call_action(
            step.action,
            scope,
            label=display,
            record=display,
            policy=step.retry,
            timeout=_timeout(step, scope),
            on_attempt=on_attempt,
        )
        return StepResult(display, SUCCEEDED, result.message, output=dict(result.output), attempts=attempts)
    if step.condition is not None:
        return await _condition(step, step.condition, scope, display, on_attempt)
    if step.wait is not None:
        return await _wait(step, step.wait, scope, display)
    if step.approval is not None:
        return await ask_approval(step.approval, scope, display)
    if step.parallel is not None:
        return await _bounded(step, run_parallel(step, step.parallel, scope, display, execute=execute_step))
    if step.foreach is not None:
        return await _bounded(step, run_foreach(step, step.foreach, scope, display, execute=execute_step))
    if step.rollout is not None:
        return await run_rollout(step, step.rollout, scope, display, timeout=_timeout(step, scope))
    if step.subflow is not None:
        return await _bounded(step, run_subflow(step.subflow, scope, display, execute=execute_step))
    raise InvalidError("the step has no kind", step=step.name)


async def _bounded(step: Step, work: Any) -> StepResult:
    """Groups (parallel, foreach, subflow) are bounded only by an explicit step timeout."""
    if step.timeout is None:
        result: StepResult = await work
        return result
    try:
        async with asyncio.timeout(parse_duration(step.timeout)):
            result = await work
            return result
    except TimeoutError:
        raise StepFailed(f"timed out after {step.timeout}", category=ErrorCategory.TIMEOUT, attempts=1) from None


async def _check(check: Check, scope: Scope, interval: float = 10.0) -> tuple[bool, str]:
    deps = scope.deps
    return await evaluate_check(
        check,
        context=scope.context,
        kube=deps.kube,
        promql=deps.promql,
        clock=deps.clock,
        sleep=deps.sleep,
        interval=interval,
        refusal=scope.action_context().namespace_refusal,
    )


async def _condition(step: Step, condition: ConditionStep, scope: Scope, display: str, on_attempt: Any) -> StepResult:
    """Decide the branch; the message says where the run goes next (for an assumed verdict, what it skips)."""
    attempts = 0

    async def look() -> tuple[bool, str]:
        nonlocal attempts
        verdict, attempts = await with_retry(
            lambda: _check(condition.check, scope),
            policy=step.retry,
            timeout=_timeout(step, scope),
            sleep=scope.deps.sleep,
            on_attempt=on_attempt,
        )
        return verdict

    verdict = await scope.deps.effects.decide(condition.check, look)
    output: dict[str, Any] = {"result": verdict.holds}
    if verdict.assumed:
        output["assumed"] = True
    message = _condition_message(step, scope, verdict)
    return StepResult(display, SUCCEEDED, message, output=output, attempts=max(attempts, 1), branch=verdict.holds)


def _condition_message(step: Step, scope: Scope, verdict: Verdict) -> str:
    """The verdict and where the run goes next (``... -> else: restart``).

    An assumed verdict leads with the assumption and names the steps only the
    other branch would run, so a reader sees what the plan did not take.
    """
    flow = build_flow(scope.spec.steps)
    if step.name not in flow.top_level:  # an owned condition has no successor of its own
        return f"assumed {str(verdict.holds).lower()}: {verdict.detail}" if verdict.assumed else verdict.detail
    label = "then" if verdict.holds else "else"
    where = f" -> {label}: {successor(flow, step.name, branch=verdict.holds)}"
    if not verdict.assumed:
        return verdict.detail + where
    other = only_on_branch(flow, step.name, branch=not verdict.holds)
    return (
        f"assumed {str(verdict.holds).lower()}{where}; "
        f"{'false' if verdict.holds else 'true'} would run {', '.join(other) or 'no other step'} instead; "
        f"cannot evaluate now: {verdict.detail}"
    )


async def _wait(step: Step, wait: WaitStep, scope: Scope, display: str) -> StepResult:
    """A duration (cancellable), or poll ``until`` every interval until it holds or the wait times out."""
    effects = scope.deps.effects
    # Measured from when the run first reached this wait: a resumed wait waits only for the rest.
    spent = max(scope.deps.clock().timestamp() - await scope.first_reached(display), 0.0)
    if wait.duration is not None:
        left = max(parse_duration(wait.duration) - spent, 0.0)
        message = await effects.elapse(left, text=wait.duration, pause=scope.pause)
        return StepResult(display, SUCCEEDED, message)
    until = wait.until
    assert until is not None
    interval, limit, limit_text = parse_duration(wait.interval), parse_duration(wait.timeout), wait.timeout
    if step.timeout and parse_duration(step.timeout) < limit:
        limit, limit_text = parse_duration(step.timeout), step.timeout
    limit = max(limit - spent, 0.0)

    async def look() -> tuple[bool, str]:
        try:
            return await _check(until, scope, interval)
        except SutureError as exc:
            if not exc.retryable:
                raise
            return False, str(exc)  # the API or Prometheus hiccuped: not holding yet, poll again

    watch = await effects.until(look, interval=interval, limit=limit, limit_text=limit_text, pause=scope.pause)
    if not watch.passed:
        raise StepFailed(watch.detail, category=ErrorCategory.TIMEOUT, attempts=1)
    return StepResult(display, SUCCEEDED, watch.detail)


async def ask_approval(approval: ApprovalStep, scope: Scope, display: str) -> StepResult:
    """Ask through the run's effects: a real run pauses with a LangGraph interrupt until resumed with a decision.

    Nothing with a side effect happens before the interrupt: the node re-runs
    from its first line when resumed. The engine (not this node) reports
    WaitingApproval and enforces the deadline carried in the interrupt value.
    """
    answer = await scope.deps.effects.ask(
        {
            "kind": "approval",
            "id": display,
            "step": display,
            "message": approval.message,
            "timeout": approval.timeout,
            "deadline": time.time() + parse_duration(approval.timeout),
        }
    )
    answer = answer if isinstance(answer, dict) else {"decision": str(answer)}
    decision = ApprovalDecision(
        step=display,
        decision=str(answer.get("decision", "")),
        by=str(answer.get("by", "")),
        reason=str(answer.get("reason", "")),
        at=str(answer.get("at") or now_iso()),
    )
    await scope.deps.sink.approval(run_id=scope.run_id, decision=decision)
    output = {"decision": decision.decision, "by": decision.by, "reason": decision.reason, "at": decision.at}
    who = f" by {decision.by}" if decision.by else ""
    why = f": {decision.reason}" if decision.reason else ""
    if decision.decision == "Approved":
        return StepResult(display, SUCCEEDED, f"approved{who}{why}", output=output)
    if decision.decision == "Rejected":
        return StepResult(display, FAILED, f"rejected{who}{why}", output=output, category="rejected")
    if decision.decision == "Cancelled":
        return StepResult(display, FAILED, "cancelled while waiting for approval", output=output, category="cancelled")
    return StepResult(
        display, FAILED, f"nobody answered within {approval.timeout}", output=output, category="approval-timeout"
    )
