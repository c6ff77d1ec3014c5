"""Progress reports: a run's first action is not kept waiting for its Running status writes, yet every report
lands, in order, before the step's result is reported (and checkpointed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from suture.engine import Engine, RecordingSink, RunRequest, StepProgress
from suture.engine.progress import BestEffortSink
from tests.conftest import wait_for
from tests.unit.engine.fakes import Ledger, rec, template


class _SlowSink(RecordingSink):
    """Holds every write until ``gate`` opens (an API server slow to answer), recording the order of writes."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.order: list[str] = []

    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        await self.gate.wait()
        self.order.append(f"run {phase}")
        await super().run_phase(run_id=run_id, phase=phase, message=message, undone=undone)

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        await self.gate.wait()
        self.order.append(f"{step.name} {step.phase}")
        await super().step(run_id=run_id, step=step)


async def test_the_first_action_runs_while_the_running_reports_are_still_being_written(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    slow = _SlowSink()
    engine = make_engine(sink=slow)
    run = asyncio.create_task(engine.start(request=RunRequest(run_id="b1", template=template(rec("a"), rec("b")))))

    async def acted() -> bool:
        return bool(ledger.done())

    # With every report awaited, the action would wait for the gate (closed until below) forever.
    await wait_for(acted, timeout=10, what="the first action, ahead of its Running reports")
    assert ledger.done() == ["a"]
    assert slow.order == []  # nothing written yet, and the run is held at step a's result until it is
    assert not run.done()
    slow.gate.set()
    outcome = await run
    assert outcome.phase == "Succeeded"
    assert ledger.done() == ["a", "b"]
    assert slow.order[:3] == ["run Running", "a Running", "a Running"]  # started, then its first attempt
    assert slow.order.index("a Succeeded") < slow.order.index("b Running")
    assert slow.order[-1] == "run Succeeded"


async def test_a_report_waits_for_the_earlier_ones_of_its_run_and_survives_their_failure() -> None:
    inner = _SlowSink()
    reports = BestEffortSink(inner, delays=())
    await reports.run_phase(run_id="r", phase="Running", message="", undone=[])  # returns at once
    await reports.step(run_id="r", step=StepProgress(name="s", phase="Running"))
    done = asyncio.create_task(reports.step(run_id="r", step=StepProgress(name="s", phase="Succeeded")))
    await asyncio.sleep(0.01)
    assert not done.done()  # the result waits for the Running reports before it
    inner.gate.set()
    await done
    assert inner.order == ["run Running", "s Running", "s Succeeded"]

    class _Broken(RecordingSink):
        async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
            raise RuntimeError("500")

    broken = _Broken()
    reports = BestEffortSink(broken, delays=())
    await reports.run_phase(run_id="r", phase="Running", message="", undone=[])
    await reports.step(run_id="r", step=StepProgress(name="s", phase="Succeeded"))  # not held up by the failure
    await reports.flush("r")
    assert broken.step_phases("r", "s") == ["Succeeded"]
