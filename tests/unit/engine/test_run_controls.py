"""Run controls: pause at a step boundary and continue there (across a restart); retry a failed run
from the step that failed, keeping what succeeded before it and its undo."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from suture.engine import Engine, RecordingSink, RunRequest
from suture.errors import InvalidError
from tests.conftest import wait_for
from tests.unit.engine.fakes import Ledger, rec, template


def _async(probe: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return probe()

    return run


def gated(name: str, wait_for: str) -> dict[str, object]:
    return {"name": name, "action": {"name": "gate", "params": {"name": name, "wait_for": wait_for}}}


def flaky(name: str, failures: int, **extra: object) -> dict[str, object]:
    params = {"name": name, "failures": failures, "category": "invalid"}  # invalid: the step never retries itself
    return {"name": name, "action": {"name": "flaky", "params": params}, **extra}


async def test_pause_stops_at_the_next_step_boundary(engine: Engine, ledger: Ledger, sink: RecordingSink) -> None:
    task = engine.submit(request=RunRequest(run_id="p1", template=template(rec("a"), gated("b", "go"), rec("c"))))
    await wait_for(_async(lambda: "go" in ledger.gates), what="the second step")
    engine.pause(run_id="p1")
    ledger.gate("go").set()  # the step in flight finishes; the run stops before the next one
    out = await asyncio.wait_for(task, 10)
    assert out.phase == "Paused"
    assert out.message == "paused before step c"
    assert ledger.done() == ["a", "b"]
    assert sink.phases[-1][1] == "Paused"
    assert not out.finished


async def test_a_paused_run_stays_paused_across_a_restart_and_continues_where_it_stopped(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    first = make_engine()
    first.pause(run_id="p2")
    out = await first.start(request=RunRequest(run_id="p2", template=template(rec("a"), rec("b"))))
    assert out.phase == "Paused"
    assert ledger.done() == []
    await first.aclose()
    second = make_engine()  # a restarted operator: only the checkpoint is shared
    resumed = await second.resume_all()
    assert [o.phase for o in resumed] == ["Paused"]
    assert ledger.done() == []
    done = await second.unpause(run_id="p2")
    assert done is not None
    assert done.phase == "Succeeded"
    assert ledger.done() == ["a", "b"]


async def test_unpause_before_the_boundary_withdraws_the_pause(engine: Engine, ledger: Ledger) -> None:
    task = engine.submit(request=RunRequest(run_id="p3", template=template(gated("a", "go"), rec("b"))))
    await wait_for(_async(lambda: "go" in ledger.gates), what="the gate step")
    engine.pause(run_id="p3")
    assert await engine.unpause(run_id="p3") is not None  # running: only the request is dropped
    ledger.gate("go").set()
    out = await asyncio.wait_for(task, 10)
    assert out.phase == "Succeeded"
    assert ledger.done() == ["a", "b"]


async def test_cancelling_a_paused_run_ends_it_and_rolls_back_when_asked(engine: Engine, ledger: Ledger) -> None:
    task = engine.submit(request=RunRequest(run_id="p4", template=template(rec("x"), gated("g", "go"), rec("y"))))
    await wait_for(_async(lambda: "go" in ledger.gates), what="the gate step")
    engine.pause(run_id="p4")
    ledger.gate("go").set()
    assert (await asyncio.wait_for(task, 10)).phase == "Paused"
    cancelled = await engine.cancel(run_id="p4", rollback=True)
    assert cancelled is not None
    assert cancelled.phase == "Cancelled"
    assert ledger.events == ["do:x", "do:g", "undo:x"]  # the gate action has no undo


async def test_retry_runs_a_failed_run_again_from_the_step_that_failed(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("first"), flaky("shaky", failures=1), rec("last"))
    out = await engine.start(request=RunRequest(run_id="r1", template=spec))
    assert out.phase == "Failed"
    assert out.retry_step == "shaky"
    assert out.attempt == 1
    again = await engine.retry(run_id="r1", attempt=2)
    assert again.phase == "Succeeded", again.message
    assert again.attempt == 2
    assert ledger.done() == ["first", "shaky", "last"]  # first is not applied twice
    assert ledger.attempts["shaky"] == 2
    repeated = await engine.retry(run_id="r1", attempt=2)  # the same request again changes nothing
    assert repeated.phase == "Succeeded"
    assert ledger.attempts["shaky"] == 2


async def test_a_retried_run_still_undoes_the_steps_of_its_first_attempt(engine: Engine, ledger: Ledger) -> None:
    boom = flaky("boom", failures=99, onFailure="rollback")
    spec = template(rec("first"), flaky("shaky", failures=1), rec("second"), boom)
    assert (await engine.start(request=RunRequest(run_id="r2", template=spec))).phase == "Failed"
    out = await engine.retry(run_id="r2", attempt=2)
    assert out.phase == "RolledBack"
    assert ledger.events == ["do:first", "do:shaky", "do:second", "undo:second", "undo:first"]


async def test_retry_survives_a_restart(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    first = make_engine()
    spec = template(rec("first"), flaky("shaky", failures=1), rec("last"))
    assert (await first.start(request=RunRequest(run_id="r3", template=spec))).phase == "Failed"
    await first.aclose()
    out = await make_engine().retry(run_id="r3", attempt=2)
    assert out.phase == "Succeeded"
    assert ledger.done() == ["first", "shaky", "last"]


@pytest.mark.parametrize(
    ("steps", "phase"),
    [
        ([rec("ok")], "Succeeded"),
        ([rec("first"), flaky("boom", failures=9, onFailure="rollback")], "RolledBack"),
    ],
)
async def test_only_a_run_that_failed_at_a_step_can_be_retried(
    engine: Engine, steps: list[dict[str, object]], phase: str
) -> None:
    out = await engine.start(request=RunRequest(run_id=f"r-{phase}", template=template(*steps)))
    assert out.phase == phase
    assert out.retry_step is None
    with pytest.raises(InvalidError, match="only a run that Failed at a step"):
        await engine.retry(run_id=f"r-{phase}", attempt=2)
