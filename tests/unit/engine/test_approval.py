"""Approval: interrupt, resume with a decision, timeout, the requiresApproval gate."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from suture.engine import ApprovalNotPending, Engine, RecordingSink, RunRequest
from suture.errors import InvalidError
from tests.conftest import wait_for
from tests.unit.engine.fakes import Ledger, rec, template


def approval(name: str = "ask", **extra: object) -> dict[str, object]:
    return {"name": name, "approval": {"message": "scale it?"}, **extra}


async def test_approved_run_continues(engine: Engine, ledger: Ledger, sink: RecordingSink) -> None:
    spec = template(rec("before"), approval(), rec("after"))
    out = await engine.start(request=RunRequest(run_id="a1", template=spec))
    assert out.phase == "WaitingApproval"
    assert out.approval is not None
    assert out.approval.step == "ask"
    assert ledger.done() == ["before"]
    out = await engine.approve(run_id="a1", decision="Approved", by="alice", reason="looks right")
    assert out.phase == "Succeeded", out.message
    assert ledger.done() == ["before", "after"]
    assert out.steps["ask"]["output"]["by"] == "alice"
    assert sink.approvals[-1][1].decision == "Approved"
    assert sink.run_phases("a1") == ["Running", "WaitingApproval", "Running", "Succeeded"]
    assert ledger.events.count("do:before") == 1


async def test_rejected_run_is_cancelled(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("before"), approval(), rec("after"))
    await engine.start(request=RunRequest(run_id="a2", template=spec))
    out = await engine.approve(run_id="a2", decision="Rejected", by="bob", reason="not now")
    assert out.phase == "Cancelled"
    assert "rejected by bob: not now" in out.message
    assert ledger.events == ["do:before"]


async def test_rejection_with_rollback_undoes(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("before"), approval(onFailure="rollback"), rec("after"))
    await engine.start(request=RunRequest(run_id="a3", template=spec))
    out = await engine.approve(run_id="a3", decision="Rejected", by="bob")
    assert out.phase == "RolledBack"
    assert ledger.events == ["do:before", "undo:before"]


async def test_approval_timeout_fails_the_run(engine: Engine, ledger: Ledger, sink: RecordingSink) -> None:
    spec = template({"name": "ask", "approval": {"timeout": "50ms"}}, rec("after"))
    out = await engine.start(request=RunRequest(run_id="a4", template=spec))
    assert out.phase == "WaitingApproval"

    async def failed() -> bool:
        return sink.run_phases("a4")[-1] == "Failed"

    await wait_for(failed, timeout=30, interval=0.01, what="the approval to time out")
    final = await engine.snapshot(run_id="a4")
    assert final is not None
    assert final.phase == "Failed"
    assert "nobody answered within 50ms" in final.message
    assert ledger.events == []


async def test_requires_approval_gates_the_first_step(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("only"), safety={"requiresApproval": True})
    out = await engine.start(request=RunRequest(run_id="a5", template=spec))
    assert out.phase == "WaitingApproval"
    assert ledger.events == []
    out = await engine.approve(run_id="a5", decision="Approved", by="carol")
    assert out.phase == "Succeeded"
    assert ledger.done() == ["only"]
    assert out.steps["safety.requiresApproval"]["phase"] == "Succeeded"


async def test_cancel_while_waiting_for_approval(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("before"), approval(), rec("after"))
    await engine.start(request=RunRequest(run_id="a6", template=spec))
    out = await engine.cancel(run_id="a6", rollback=True)
    assert out is not None
    assert out.phase == "Cancelled"
    assert ledger.events == ["do:before", "undo:before"]


async def test_approve_needs_a_pending_approval(engine: Engine) -> None:
    await engine.start(request=RunRequest(run_id="a7", template=template(rec("x"))))
    with pytest.raises(ApprovalNotPending):
        await engine.approve(run_id="a7", decision="Approved")
    with pytest.raises(InvalidError, match="decision must be"):
        await engine.approve(run_id="a7", decision="Maybe")


async def test_restarted_engine_finds_the_waiting_run(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    first = make_engine()
    spec = template(rec("before"), approval(), rec("after"))
    await first.start(request=RunRequest(run_id="a8", template=spec))
    await first.aclose()
    second = make_engine()
    outcomes = await second.resume_all()
    assert [o.phase for o in outcomes if o.run_id == "a8"] == ["WaitingApproval"]
    out = await second.approve(run_id="a8", decision="Approved", by="dave")
    assert out.phase == "Succeeded"
    assert ledger.done() == ["before", "after"]
