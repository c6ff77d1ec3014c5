"""Found by `make chaos`: a process killed right after a run's first checkpoint (LangGraph's ``input``
checkpoint, whose state still sits in the ``__start__`` channel) left a run no restart could resume:
reading the run's settings from the checkpoint raised KeyError('run'), so the Remediation stayed Running."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from suture.engine import Engine, RunRequest
from tests.unit.engine.fakes import Ledger, rec, template


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in the engine may catch it)."""


async def test_a_run_killed_after_its_input_checkpoint_resumes_and_runs_every_step_once(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    first = make_engine()
    saver: Any = first.checkpointer
    real_aput = saver.aput
    calls = 0

    async def aput(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the input checkpoint is written; die before the next one
            raise Killed
        return await real_aput(*args, **kwargs)

    saver.aput = aput
    with pytest.raises(Killed):
        await first.start(request=RunRequest(run_id="k1", template=template(rec("one"), rec("two"))))
    saver.aput = real_aput
    assert ledger.done() == []

    second = make_engine()  # the restarted process
    snapshot = await second.snapshot(run_id="k1")
    assert snapshot is not None
    assert not snapshot.finished
    outcome = await second.resume(run_id="k1")
    assert outcome.phase == "Succeeded", outcome.message
    assert ledger.done() == ["one", "two"]
