"""``parallel`` and ``foreach``: run owned steps concurrently inside their owner.

Children report their own records (a foreach element is ``<step>[<index>]``)
and add to the same journal, so a later rollback undoes what they did. A
child fails its group only when its failure would stop a run
(:func:`suture.flow.stops_run`: not with ``onFailure: continue``, except an approval). With
``failFast`` the first failure cancels the children still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from suture.actions import ErrorCategory
from suture.api import ForeachStep, ParallelStep, Step
from suture.engine.outcome import Executor, StepResult
from suture.engine.retry import StepFailed
from suture.engine.scope import Scope
from suture.engine.state import FAILED, SUCCEEDED, now_iso, step_record
from suture.expr import ExpressionError, resolve_value
from suture.flow import stops_run


def _owned(scope: Scope, name: str) -> Step:
    step = scope.spec.step(name)
    if step is None:
        raise StepFailed(f"owned step {name!r} does not exist", category=ErrorCategory.INVALID, attempts=1)
    return step


async def _gather(
    jobs: list[Callable[[], Awaitable[StepResult]]], *, fail_fast: bool, limit: int, counts: Callable[[Any], bool]
) -> list[StepResult | None]:
    """Run jobs with at most ``limit`` at once; with ``fail_fast`` stop at the first counted failure.

    Returns one entry per job in order; None for jobs that never ran or were cancelled.
    """
    results: list[StepResult | None] = [None] * len(jobs)
    semaphore = asyncio.Semaphore(limit)
    stop = asyncio.Event()

    async def one(index: int) -> None:
        async with semaphore:
            if stop.is_set():
                return
            result = await jobs[index]()
            results[index] = result
            if fail_fast and counts(result):
                stop.set()

    tasks = [asyncio.create_task(one(i)) for i in range(len(jobs))]
    try:
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # propagate interrupts and unexpected errors
            if stop.is_set() and pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                pending = set()
    finally:
        for task in tasks:
            task.cancel()
    return results


async def run_parallel(
    step: Step, parallel: ParallelStep, scope: Scope, display: str, *, execute: Executor
) -> StepResult:
    """Run the owned steps at the same time; fail when one that counts fails."""
    children = [_owned(scope, n) for n in parallel.steps]
    jobs = [_job(execute, child, scope) for child in children]
    by_name = {c.name: c for c in children}

    def counts(result: StepResult) -> bool:
        return stops_run(by_name[result.name.removeprefix(scope.prefix)], failed=result.failed)

    results = await _gather(jobs, fail_fast=parallel.fail_fast, limit=len(jobs), counts=counts)
    output = {"steps": {c.name: (r.output if r else {}) for c, r in zip(children, results, strict=True)}}
    failed = [r for r in results if r is not None and counts(r)]
    if failed:
        names = ", ".join(f"{r.name} ({r.message})" for r in failed)
        return StepResult(display, FAILED, f"failed: {names}", output=output, category=failed[0].category)
    return StepResult(display, SUCCEEDED, f"{len(children)} steps succeeded", output=output)


def _job(execute: Executor, step: Step, scope: Scope, name: str | None = None) -> Callable[[], Awaitable[StepResult]]:
    async def job() -> StepResult:
        return await execute(step, scope, name=name)

    return job


async def run_foreach(step: Step, foreach: ForeachStep, scope: Scope, display: str, *, execute: Executor) -> StepResult:
    """Run the owned step once per element of ``items``, with ``item`` (and the ``as`` name) bound."""
    child = _owned(scope, foreach.step)
    try:
        items = resolve_value(foreach.items, scope.context)
    except ExpressionError as exc:
        raise StepFailed(str(exc), category=ErrorCategory.INVALID, attempts=1) from None
    if not isinstance(items, list):
        raise StepFailed(
            f"items yielded {type(items).__name__}, not a list", category=ErrorCategory.INVALID, attempts=1
        )
    if len(items) > foreach.max_items:
        raise StepFailed(
            f"items has {len(items)} elements, more than maxItems {foreach.max_items}",
            category=ErrorCategory.INVALID,
            attempts=1,
        )
    jobs = []
    for index, element in enumerate(items):
        context = {**scope.context, "item": element, foreach.as_: element}
        jobs.append(_job(execute, child, scope.child(context=context), f"{child.name}[{index}]"))

    def counts(result: StepResult) -> bool:
        return stops_run(child, failed=result.failed)

    results = await _gather(jobs, fail_fast=foreach.fail_fast, limit=foreach.max_concurrency, counts=counts)
    outputs = [r.output if r else {} for r in results]
    failed = [r for r in results if r is not None and counts(r)]
    skipped = sum(1 for r in results if r is None)
    summary = {"items": outputs, "count": len(items), "failed": len(failed), "notRun": skipped}
    phase = FAILED if failed else SUCCEEDED
    message = (
        f"{len(failed)} of {len(items)} failed: {failed[0].name} ({failed[0].message})"
        if failed
        else f"{len(items)} element(s) done"
    )
    aggregate = step_record(
        scope.prefix + child.name, phase, endTime=now_iso(), message=message, output=summary, kind=child.kind
    )
    aggregate["attempts"] = len(items) - skipped
    await scope.report(aggregate)
    scope.context["steps"][child.name] = {"output": summary, "phase": phase}
    return StepResult(display, phase, message, output=summary, category=failed[0].category if failed else "")
