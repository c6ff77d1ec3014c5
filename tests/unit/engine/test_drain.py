"""Engine.drain (SIGTERM): runs stop at their next checkpoint, unfinished, and resume from it without
repeating a step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from suture.engine import Engine, RecordingSink, RunRequest
from tests.conftest import wait_for
from tests.unit.engine.fakes import Ledger, rec, template


async def test_a_step_in_flight_finishes_and_the_next_one_waits_for_the_resume(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    held = {"name": "held", "action": {"name": "gate", "params": {"name": "held", "wait_for": "go"}}}
    spec = template(held, rec("after"))
    engine = make_engine()
    run = asyncio.create_task(engine.start(request=RunRequest(run_id="d1", template=spec)))
    await wait_for(lambda: _true(ledger.gates.get("go") is not None), timeout=10, what="the step in flight")
    engine.drain()
    ledger.gate("go").set()  # the step in flight reaches its end, and with it a checkpoint
    with pytest.raises(asyncio.CancelledError):
        await run
    assert ledger.done() == ["held"]  # "after" never started

    out = await make_engine().resume(run_id="d1")
    assert out.phase == "Succeeded"
    assert ledger.done() == ["held", "after"]  # nothing applied twice


async def test_a_wait_stops_at_once_and_the_run_resumes_after_it(
    make_engine: Callable[..., Engine], ledger: Ledger, sink: RecordingSink
) -> None:
    spec = template(rec("first"), {"name": "pause", "wait": {"duration": "1s"}}, rec("second"))
    engine = make_engine()
    run = asyncio.create_task(engine.start(request=RunRequest(run_id="d2", template=spec)))

    async def pausing() -> bool:
        return any(s.name == "pause" and s.phase == "Running" for _, s in sink.steps)

    await wait_for(pausing, timeout=10, what="the run inside the pause")
    engine.drain()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert ledger.done() == ["first"]
    assert not any(s.name == "pause" and s.phase == "Succeeded" for _, s in sink.steps)  # cut, not waited out

    out = await make_engine().resume(run_id="d2")
    assert out.phase == "Succeeded"
    assert ledger.done() == ["first", "second"]


async def _true(value: bool) -> bool:
    return value
