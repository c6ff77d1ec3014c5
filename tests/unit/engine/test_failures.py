"""Failure handling: rollback in reverse, retries of transient errors only, timeouts, continue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from suture.engine import Engine, RecordingSink, RunRequest
from tests.conftest import wait_for
from tests.unit.engine.fakes import Ledger, rec, template


def failing(name: str, category: str = "invalid", **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "action": {"name": "flaky", "params": {"name": name, "failures": 99, "category": category}},
        **extra,
    }


async def test_rollback_undoes_completed_steps_in_reverse(engine: Engine, ledger: Ledger, sink: RecordingSink) -> None:
    spec = template(rec("first"), rec("second"), failing("third", onFailure="rollback"), rec("never"))
    out = await engine.start(request=RunRequest(run_id="rb1", template=spec))
    assert out.phase == "RolledBack", out.message
    assert ledger.events == ["do:first", "do:second", "undo:second", "undo:first"]
    assert out.undone == ["second", "first"]
    assert out.steps["first"]["phase"] == out.steps["second"]["phase"] == "RolledBack"
    assert out.steps["third"]["phase"] == "Failed"
    assert "third failed" in out.message
    assert sink.phases[-1][1:] == ("RolledBack", out.message, ("second", "first"))


async def test_abort_fails_without_undoing(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("first"), failing("second"), rec("never"))
    out = await engine.start(request=RunRequest(run_id="ab1", template=spec))
    assert out.phase == "Failed"
    assert ledger.events == ["do:first"]
    assert out.undone == []


async def test_continue_goes_on_after_a_failure(engine: Engine, ledger: Ledger) -> None:
    spec = template(failing("optional", onFailure="continue"), rec("after"))
    out = await engine.start(request=RunRequest(run_id="co1", template=spec))
    assert out.phase == "Succeeded"
    assert ledger.done() == ["after"]
    assert "optional" in out.message


async def test_parallel_children_are_rolled_back_too(engine: Engine, ledger: Ledger) -> None:
    spec = template(
        rec("before"),
        {"name": "both", "parallel": {"steps": ["a", "b"]}},
        rec("a"),
        rec("b"),
        failing("boom", onFailure="rollback"),
    )
    out = await engine.start(request=RunRequest(run_id="rb2", template=spec))
    assert out.phase == "RolledBack"
    assert ledger.events[-1] == "undo:before"
    assert sorted(ledger.events[3:5]) == ["undo:a", "undo:b"]
    assert out.undone[-1] == "before"


async def test_retry_transient_errors_with_capped_backoff(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    delays: list[float] = []
    engine = make_engine()

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    engine.deps.sleep = fake_sleep
    retry = {"limit": 4, "backoff": "100ms", "factor": 3, "maxBackoff": "500ms"}
    spec = template(
        {"name": "shaky", "retry": retry, "action": {"name": "flaky", "params": {"name": "shaky", "failures": 3}}}
    )
    out = await engine.start(request=RunRequest(run_id="rt1", template=spec))
    assert out.phase == "Succeeded", out.message
    assert ledger.attempts["shaky"] == 4
    assert out.steps["shaky"]["attempts"] == 4
    assert delays == [0.1, 0.30000000000000004, 0.5]


async def test_retries_run_out(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    engine = make_engine()

    async def no_sleep(seconds: float) -> None:
        return None

    engine.deps.sleep = no_sleep
    spec = template({**failing("shaky", category="transient"), "retry": {"limit": 2, "backoff": "1s"}})
    out = await engine.start(request=RunRequest(run_id="rt2", template=spec))
    assert out.phase == "Failed"
    assert ledger.attempts["shaky"] == 3
    assert out.steps["shaky"]["attempts"] == 3


async def test_non_transient_errors_are_not_retried(engine: Engine, ledger: Ledger) -> None:
    for category in ("invalid", "forbidden", "not-found", "failed"):
        spec = template({**failing(category, category=category), "retry": {"limit": 3, "backoff": "1ms"}})
        out = await engine.start(request=RunRequest(run_id=f"nr-{category}", template=spec))
        assert out.phase == "Failed"
        assert ledger.attempts[category] == 1, category


async def test_step_timeout_fails_the_attempt(engine: Engine, ledger: Ledger) -> None:
    spec = template({"name": "sleepy", "timeout": "50ms", "action": {"name": "slow", "params": {"seconds": 30}}})
    out = await engine.start(request=RunRequest(run_id="to1", template=spec))
    assert out.phase == "Failed"
    assert "timed out" in out.steps["sleepy"]["message"]


async def test_template_step_timeout_is_the_default(engine: Engine) -> None:
    spec = template(
        {"name": "sleepy", "action": {"name": "slow", "params": {"seconds": 30}}}, timeouts={"step": "50ms"}
    )
    out = await engine.start(request=RunRequest(run_id="to2", template=spec))
    assert out.phase == "Failed"
    assert "timed out" in out.steps["sleepy"]["message"]


async def test_wait_until_times_out(engine: Engine) -> None:
    spec = template(
        {"name": "hold", "wait": {"until": {"expression": "vars.ready"}, "interval": "10ms", "timeout": "50ms"}}
    )
    out = await engine.start(request=RunRequest(run_id="to3", template=spec, variables={"ready": False}))
    assert out.phase == "Failed"
    assert "did not hold within 50ms" in out.message


async def test_cancel_stops_a_waiting_run_and_rolls_back(engine: Engine, ledger: Ledger, sink: RecordingSink) -> None:
    spec = template(rec("first"), {"name": "hold", "wait": {"duration": "1h"}}, rec("never"))
    task = engine.submit(request=RunRequest(run_id="c1", template=spec))
    # Cancel inside the wait, not at the boundary before it (a loaded machine can land it there otherwise).
    await wait_for(_async(lambda: "Running" in sink.step_phases("c1", "hold")), what="the wait step")
    await engine.cancel(run_id="c1", rollback=True)
    out = await asyncio.wait_for(task, 10)
    assert out.phase == "Cancelled"
    assert ledger.events == ["do:first", "undo:first"]
    assert out.undone == ["first"]
    assert out.steps["hold"]["message"] == "cancelled while running"


async def test_cancel_before_start_runs_nothing(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    engine = make_engine()
    await engine.cancel(run_id="c2")
    out = await engine.start(request=RunRequest(run_id="c2", template=template(rec("a"))))
    assert out.phase == "Cancelled"
    assert ledger.events == []


async def test_workflow_timeout_stops_at_step_boundary(engine: Engine, ledger: Ledger) -> None:
    spec = template({"name": "hold", "wait": {"duration": "100ms"}}, rec("late"), timeouts={"workflow": "50ms"})
    out = await engine.start(request=RunRequest(run_id="wt1", template=spec))
    assert out.phase == "Failed"
    assert "workflow timeout" in out.message
    assert ledger.events == []


async def test_workflow_timeout_undoes_what_the_run_changed(engine: Engine, ledger: Ledger) -> None:
    # Generous for the first step even on a loaded machine; the boundary after the wait is past the limit.
    spec = template(
        rec("first"), {"name": "hold", "wait": {"duration": "1500ms"}}, rec("late"), timeouts={"workflow": "1s"}
    )
    out = await engine.start(request=RunRequest(run_id="wt2", template=spec))
    assert out.phase == "Failed"
    assert "workflow timeout" in out.message
    assert ledger.events == ["do:first", "undo:first"]
    assert out.undone == ["first"]


def _async(probe: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return probe()

    return run
