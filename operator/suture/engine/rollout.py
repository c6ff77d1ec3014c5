"""``rollout``: apply an action to the selected objects in waves, with a health gate after each.

Objects are listed by selector and sorted by name, so a re-run after a restart
picks the same waves. Wave *k* covers ``ceil(n * waves[k] / 100)`` objects in
total. After each wave the health gate must hold at every poll for its whole
duration. When an action or a gate fails, every change this rollout made is
undone in reverse order and the step fails (its ``onFailure`` then applies to
the rest of the run). Only a rollout that completes adds its changes to the
run's journal.
"""

from __future__ import annotations

import math
import time
from typing import Any

from suture.api import HealthGate, RolloutStep, Step, parse_duration
from suture.engine.actioncall import call_action
from suture.engine.conditions import evaluate_check, target_ref
from suture.engine.journal import idempotency_key
from suture.engine.outcome import StepResult
from suture.engine.rollback import undo_entries
from suture.engine.scope import Scope
from suture.engine.state import FAILED, SUCCEEDED
from suture.errors import (
    ApiError,
    ErrorCategory,
    ExpressionError,
    InvalidReference,
    StepFailed,
    SutureError,
    UnknownKind,
)
from suture.expr import resolve_value


def wave_sizes(total: int, waves: list[int]) -> list[int]:
    """Cumulative object counts per wave: ``ceil(total * pct / 100)``, waves that add nothing dropped."""
    sizes: list[int] = []
    for pct in waves:
        size = min(total, math.ceil(total * pct / 100))
        if not sizes or size > sizes[-1]:
            sizes.append(size)
    return sizes


async def _select(rollout: RolloutStep, scope: Scope) -> list[dict[str, Any]]:
    targets = rollout.targets
    _, _, target_ns, _ = target_ref(scope.context.get("target") or {})
    try:
        namespace = resolve_value(targets.namespace, scope.context) if targets.namespace else target_ns
    except ExpressionError as exc:
        raise StepFailed(str(exc), category=ErrorCategory.INVALID, attempts=1) from None
    try:
        namespaced = (await scope.deps.kube.resolve(targets.kind, targets.api_version)).namespaced
    except (InvalidReference, UnknownKind) as exc:  # a kind the template cannot name
        raise StepFailed(exc.message, category=ErrorCategory.INVALID, attempts=1) from None
    except ApiError as exc:
        raise StepFailed(f"listing {targets.kind}: {exc}", category=exc.category, attempts=1) from None
    # As for actions, a namespaced template's own namespace is the default.
    namespace = (namespace or scope.run.get("namespace")) if namespaced else None
    ctx = scope.action_context()
    reason = ctx.namespace_refusal(namespace)
    if reason is not None:
        raise StepFailed(f"rollout targets: {reason}", category=ErrorCategory.FORBIDDEN, attempts=1)
    try:
        objects = await scope.deps.kube.list(
            targets.kind, namespace, api_version=targets.api_version, label_selector=targets.selector.to_query()
        )
    except ApiError as exc:
        raise StepFailed(f"listing {targets.kind}: {exc}", category=exc.category, attempts=1) from None
    # A cluster template listing every namespace still skips the ones its safety rules deny.
    allowed = [o for o in objects if ctx.namespace_refusal(o["metadata"].get("namespace")) is None]
    return sorted(allowed, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


async def _selection(rollout: RolloutStep, scope: Scope, display: str) -> list[dict[str, Any]]:
    """The objects this rollout acts on, selected once per run and recorded.

    A resumed rollout (after a crash, or after each ``approveBetweenWaves``
    answer) works through the same objects in the same waves, even if labels
    changed meanwhile or its own changes altered what the selector matches.
    """
    journal, key = scope.deps.journal, f"{idempotency_key(scope.run_id, display)}:selection"
    recorded = await journal.get(run_id=scope.run_id, key=key)
    if recorded is not None:
        objects: list[dict[str, Any]] = recorded["objects"]
        return objects
    objects = await _select(rollout, scope)
    for obj in objects:
        obj.get("metadata", {}).pop("managedFields", None)  # bulky, and no step reads it
    await journal.put(run_id=scope.run_id, key=key, value={"objects": objects})
    return objects


async def _hold(gate: HealthGate, scope: Scope, context: dict[str, Any]) -> tuple[bool, str]:
    """Watch the gate through the run's effects (a real run polls it for its whole duration)."""
    deps = scope.deps
    interval = parse_duration(gate.interval)

    async def look() -> tuple[bool, str]:
        try:
            return await evaluate_check(
                gate.check,
                context=context,
                kube=deps.kube,
                promql=deps.promql,
                clock=deps.clock,
                sleep=deps.sleep,
                interval=interval,
                refusal=scope.action_context().namespace_refusal,
            )
        except SutureError as exc:  # an API or Prometheus failure fails the gate: the rollout then undoes its waves
            return False, str(exc)

    watch = await deps.effects.hold(
        look, interval=interval, duration=parse_duration(gate.duration), duration_text=gate.duration, pause=scope.pause
    )
    return watch.passed, watch.detail


async def run_rollout(step: Step, rollout: RolloutStep, scope: Scope, display: str, *, timeout: float) -> StepResult:
    """Apply the rollout; on failure undo its own changes (newest first) and fail."""
    objects = await _selection(rollout, scope, display)
    if not objects:
        raise StepFailed(
            f"no {rollout.targets.kind} matches {rollout.targets.selector.to_query()}",
            category=ErrorCategory.NOT_FOUND,
            attempts=1,
        )
    sizes = wave_sizes(len(objects), rollout.waves)
    applied: list[dict[str, Any]] = []
    done: list[str] = []
    gates: list[dict[str, Any]] = []  # what each health gate saw, in wave order
    progress: dict[str, Any] = {"total": len(objects), "waves": sizes, "applied": done, "undone": [], "gates": gates}
    failure = ""
    category = ErrorCategory.FAILED
    start = 0
    for number, size in enumerate(sizes, start=1):
        if number > 1 and rollout.approve_between_waves:
            answer = await scope.deps.effects.ask(
                {
                    "kind": "approval",
                    "id": f"{display}@wave{number}",
                    "step": display,
                    "message": f"start wave {number} of {len(sizes)} ({size} of {len(objects)} objects)?",
                    "timeout": "1h",
                    "deadline": time.time() + 3600,
                }
            )
            if not (isinstance(answer, dict) and answer.get("decision") == "Approved"):
                failure, category = f"wave {number} was not approved", ErrorCategory.FORBIDDEN
                break
        try:
            for obj in objects[start:size]:
                name = obj["metadata"]["name"]
                context = {**scope.context, "item": obj}
                await call_action(
                    rollout.action,
                    scope.child(context=context),
                    label=f"{display}/{name}",
                    record=display,
                    policy=step.retry,
                    timeout=timeout,
                    journal=applied,
                )
                done.append(name)
        except StepFailed as exc:
            failure, category = f"wave {number}: {exc.message}", exc.category
            break
        start = size
        progress["wave"] = number
        if rollout.health_gate is not None:
            gate_context = {**scope.context, "item": {"wave": number, "objects": list(done), "total": len(objects)}}
            holds, detail = await _hold(rollout.health_gate, scope, gate_context)
            gates.append({"wave": number, "passed": holds, "detail": detail})
            if not holds:
                failure, category = f"wave {number} failed its health gate: {detail}", ErrorCategory.FAILED
                break
    if not failure:
        scope.journal.extend(applied)
        return StepResult(display, SUCCEEDED, f"rolled out to {len(done)} object(s) in {len(sizes)} wave(s)", progress)
    undone, errors = await undo_entries(list(reversed(applied)), scope=scope)
    progress["undone"] = undone
    message = f"{failure}; undid {len(undone)} change(s)" + (f"; undo failed: {'; '.join(errors)}" if errors else "")
    return StepResult(display, FAILED, message, output=progress, category=str(category))
