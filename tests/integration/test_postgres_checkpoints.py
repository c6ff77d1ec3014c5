"""Runs checkpointed in a real PostgreSQL server survive an engine restart.

No Kubernetes here: the fake actions of the engine's unit tests count their
side effects, so a step applied twice would show.
"""

from __future__ import annotations

from suture.engine import Engine, RecordingSink, RunRequest, open_checkpointer
from tests.unit.engine.fakes import Ledger, make_registry, rec, template


async def test_waiting_run_resumes_from_postgres_after_a_restart(postgres_url: str) -> None:
    ledger = Ledger()
    registry = make_registry(ledger)
    spec = template(rec("before"), {"name": "ask", "approval": {"message": "go on?"}}, rec("after"))
    request = RunRequest(run_id="pg-run-1", template=spec)

    async with open_checkpointer(location=postgres_url) as saver:
        first = Engine(registry=registry, kube=None, checkpointer=saver, sink=RecordingSink())  # type: ignore[arg-type]
        outcome = await first.start(request=request)
        assert outcome.phase == "WaitingApproval"
        await first.aclose()
    assert ledger.done() == ["before"]

    # A new process would start here: nothing but the database carries the run.
    sink = RecordingSink()
    async with open_checkpointer(location=postgres_url) as saver:
        second = Engine(registry=registry, kube=None, checkpointer=saver, sink=sink)  # type: ignore[arg-type]
        snapshot = await second.snapshot(run_id="pg-run-1")
        assert snapshot is not None
        assert snapshot.phase == "WaitingApproval"
        done = await second.approve(run_id="pg-run-1", decision="Approved", by="alice")
        await second.aclose()
    assert done.phase == "Succeeded"
    assert ledger.done() == ["before", "after"]  # "before" was not applied again
    assert [d.by for _, d in sink.approvals] == ["alice"]


async def test_setup_is_idempotent(postgres_url: str) -> None:
    # Two engines opening the same database one after the other: tables exist already the second time.
    for _ in range(2):
        async with open_checkpointer(location=postgres_url) as saver:
            assert await saver.aget_tuple({"configurable": {"thread_id": "no-such-run"}}) is None
