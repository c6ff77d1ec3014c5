"""``subflow``: run another template's steps inline, as part of this step.

The subflow's steps see their own ``vars`` (the template's defaults overlaid
with the step's ``variables``) and their own ``steps``; alert, target, run and
the namespace confinement are the parent's. Records are named
``<subflow step>/<step>``, and completed reversible actions join the parent's
journal, so a rollback of the parent undoes them too. Nesting is limited to
``MAX_SUBFLOW_DEPTH`` levels.
"""

from __future__ import annotations

from typing import Any

from suture.api import END, SubflowStep, WorkflowTemplateSpec
from suture.engine.outcome import Executor, StepResult
from suture.engine.scope import MAX_SUBFLOW_DEPTH, Scope, TemplateSource
from suture.engine.state import FAILED, SUCCEEDED
from suture.errors import ErrorCategory, ExpressionError, StepFailed, SutureError, TemplateError, TemplateNotFound
from suture.expr import resolve_value
from suture.flow import build_flow, first_step, stops_run, successor


async def run_flow(spec: WorkflowTemplateSpec, scope: Scope, *, execute: Executor) -> StepResult | None:
    """Walk ``spec``'s top-level flow in ``scope``; return the first failure that stops it, or None."""
    flow = build_flow(spec.steps)
    current = first_step(flow)
    visited = 0
    while current != END:
        visited += 1
        if visited > len(spec.steps) + 1:
            raise StepFailed("the subflow's steps form a loop", category=ErrorCategory.INVALID, attempts=1)
        step = flow.steps.get(current)
        if step is None:
            raise StepFailed(f"step {current!r} does not exist", category=ErrorCategory.INVALID, attempts=1)
        result = await execute(step, scope)
        if stops_run(step, failed=result.failed):
            return result
        current = successor(flow, current, branch=result.branch)
    return None


def subflow_key(kind: str, name: str) -> str:
    """How a subflow is named in a run's snapshot of its subflows."""
    return f"{kind}/{name}"


async def snapshot_subflows(
    spec: WorkflowTemplateSpec, *, source: TemplateSource | None, namespace: str | None
) -> dict[str, Any]:
    """Every template ``spec`` reaches through subflow steps (transitively), as JSON, None for missing ones.

    Taken when a run starts and kept in its checkpoint, so the run executes the
    subflows it started with even if they are edited or deleted meanwhile.
    Invalid ones are left out: the step reports the problem when it runs.
    """
    found: dict[str, Any] = {}
    pending = [(spec, 0)]
    while pending and source is not None:
        current, depth = pending.pop()
        for step in current.steps:
            if step.subflow is None or depth >= MAX_SUBFLOW_DEPTH:
                continue
            key = subflow_key(step.subflow.kind, step.subflow.template)
            if key in found:
                continue
            where = namespace if step.subflow.kind == "WorkflowTemplate" else None
            try:
                child = await source.load(name=step.subflow.template, kind=step.subflow.kind, namespace=where)
            except TemplateNotFound:
                found[key] = None
                continue
            except SutureError:  # invalid, or the API hiccuped: the step loads it (and says why) when it runs
                continue
            found[key] = child.model_dump(mode="json", by_alias=True, exclude_none=True)
            pending.append((child, depth + 1))
    return found


async def run_subflow(subflow: SubflowStep, scope: Scope, display: str, *, execute: Executor) -> StepResult:
    """Load the template through the engine's TemplateSource and run it inline."""
    source = scope.deps.templates
    if source is None:
        raise StepFailed(
            "subflows need a template source, and none is configured", category=ErrorCategory.INVALID, attempts=1
        )
    if scope.depth >= MAX_SUBFLOW_DEPTH:
        raise StepFailed(
            f"subflows nest deeper than {MAX_SUBFLOW_DEPTH} levels", category=ErrorCategory.INVALID, attempts=1
        )
    namespace = scope.run.get("namespace") if subflow.kind == "WorkflowTemplate" else None
    snapshots: dict[str, Any] | None = scope.run.get("subflows")
    key = subflow_key(subflow.kind, subflow.template)
    try:
        if snapshots is not None and key in snapshots:
            # The run keeps the subflows it started with (checkpointed), whatever was edited since.
            if snapshots[key] is None:
                raise TemplateNotFound("not found", template=key)
            spec = WorkflowTemplateSpec.model_validate(snapshots[key])
        else:
            spec = await source.load(name=subflow.template, kind=subflow.kind, namespace=namespace)
    except TemplateError as exc:
        # Not found or invalid: the step fails with the template's own category, unretried.
        raise StepFailed(
            f"{subflow.kind} {subflow.template!r} {exc.message}", category=exc.category, attempts=1
        ) from None
    try:
        overrides = resolve_value(subflow.variables, scope.context)
    except ExpressionError as exc:
        raise StepFailed(str(exc), category=ErrorCategory.INVALID, attempts=1) from None
    context = {**scope.context, "vars": {**spec.variables, **overrides}, "steps": {}, "item": None}
    child = scope.child(spec=spec, context=context, prefix=f"{scope.prefix}{display.removeprefix(scope.prefix)}/")
    child.depth = scope.depth + 1
    failure = await run_flow(spec, child, execute=execute)
    output = {"steps": {name: value["output"] for name, value in context["steps"].items()}}
    if failure is not None:
        return StepResult(display, FAILED, f"{failure.name}: {failure.message}", output, category=failure.category)
    return StepResult(display, SUCCEEDED, f"subflow {subflow.template} succeeded", output=output)
