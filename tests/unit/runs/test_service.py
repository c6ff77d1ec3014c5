"""RemediationService: start, refuse, approve, cancel and resume runs, with an in-memory API and checkpointer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from suture.actions import Registry
from suture.engine import Engine
from suture.kube import KubeClient
from suture.runs import KubeStatusSink, RemediationService
from suture.store import History
from tests.conftest import wait_for
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation, seed_pod_chain, template
from tests.unit.engine.fakes import Ledger
from tests.unit.runs.holds import Hold, phase_is

API = "suture.dev/v1alpha1"
ASK = [
    {"name": "ask", "approval": {"message": "go ahead?"}},
    {"name": "one", "action": {"name": "record", "params": {"name": "one"}}},
]


@pytest.fixture
def saver() -> InMemorySaver:
    return InMemorySaver()


@pytest.fixture
async def make_service(
    kube: KubeClient, registry: Registry, history: History, saver: InMemorySaver
) -> AsyncIterator[Callable[[], RemediationService]]:
    """Services sharing one checkpointer, as an operator and its restarted self do."""
    engines: list[Engine] = []

    def build() -> RemediationService:
        sink = KubeStatusSink(kube)
        engine = Engine(registry=registry, kube=kube, checkpointer=saver, sink=sink)
        engines.append(engine)
        return RemediationService(engine=engine, kube=kube, sink=sink, registry=registry, history=history)

    yield build
    for engine in engines:
        await engine.aclose()


def stored(api: FakeKubeApi, name: str = "crashloop-1") -> dict[str, Any]:
    return dict(api.get("Remediation", name, "shop"))


async def settle(service: RemediationService, uid: str) -> None:
    """Wait for the run's task, if one was started."""
    task = service.tasks.get(uid)
    if task is not None:
        await task


async def test_a_run_starts_records_its_target_and_succeeds(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    dep, _, _ = seed_pod_chain(api)
    target = {"kind": "Pod", "namespace": "shop", "name": "${{ alert.labels.pod }}", "owner": "Deployment"}
    api.add(template(target=target))
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)
    await settle(service, rem["metadata"]["uid"])
    status = stored(api)["status"]
    assert status["phase"] == "Succeeded"
    assert status["target"]["uid"] == dep["metadata"]["uid"]
    assert [s["phase"] for s in status["steps"]] == ["Succeeded"]
    assert ledger.done() == ["one"]
    assert ledger.contexts[0].kube is service.kube
    assert {"RunRunning", "RunSucceeded", "StepSucceeded"} <= {e["reason"] for e in api.objects("Event")}


async def test_a_refused_run_fails_with_a_refused_condition_and_a_warning(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)
    status = stored(api)["status"]
    assert status["phase"] == "Failed"
    assert status["message"].startswith("TemplateNotFound: ")
    assert status["conditions"][0]["type"] == "Refused"
    (event,) = api.objects("Event")
    assert (event["reason"], event["type"]) == ("TemplateNotFound", "Warning")
    assert service.tasks == {}
    assert ledger.events == []


async def test_a_finished_remediation_is_left_alone(
    api: FakeKubeApi, make_service: Callable[[], RemediationService]
) -> None:
    body = remediation()
    body["status"] = {"phase": "Succeeded"}
    (rem,) = api.add(body)
    await make_service().start(rem)
    assert api.writes() == []


async def test_an_approval_written_to_the_spec_lets_the_run_go_on(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "WaitingApproval"
    assert ledger.events == []
    await service.approval_changed(rem)  # no decision yet: nothing to pass on
    assert stored(api)["status"]["approval"] == {
        **stored(api)["status"]["approval"],
        "decision": "Pending",
        "step": "ask",
    }
    answer = {"decision": "Approved", "by": "alice", "step": "ask"}
    await kube.patch("Remediation", "crashloop-1", {"spec": {"approval": answer}}, "shop", api_version=API)
    await service.approval_changed(stored(api))
    await settle(service, uid)
    status = stored(api)["status"]
    assert status["phase"] == "Succeeded"
    assert status["approval"]["by"] == "alice"
    assert ledger.done() == ["one"]
    await service.approval_changed(stored(api))  # answering again is ignored: nothing is pending
    assert service.tasks == {}


async def test_an_answer_written_as_the_runs_task_ends_is_not_lost(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The task read the spec (no answer yet) and is ending when the answer arrives: kopf calls the handler
    once, finds the task still there, and the answer must still reach the run once the task has ended."""
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    hold = Hold(monkeypatch, service, "_unpause_if_withdrawn")
    await service.start(rem)
    await asyncio.wait_for(hold.reached.wait(), 10)
    answer = {"decision": "Approved", "by": "alice", "step": "ask"}
    await kube.patch("Remediation", "crashloop-1", {"spec": {"approval": answer}}, "shop", api_version=API)
    await service.approval_changed(stored(api))  # the task is still there
    hold.release()
    await wait_for(phase_is(api, "Succeeded"), timeout=10, what="the answered run's end")
    assert ledger.done() == ["one"]
    assert uid not in service.tasks


async def test_two_answers_handed_over_at_once_drive_the_run_once(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kopf's handler and the re-check after a task ended may hand the same answer over together; reading
    the checkpoint takes a moment (as SQLite does). The run is answered once, and its end is what stays."""
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "WaitingApproval"
    snapshot, approve = service.engine.snapshot, service.engine.approve
    approvals: list[str] = []

    async def slow_snapshot(**kwargs: Any) -> Any:
        await asyncio.sleep(0.01)
        return await snapshot(**kwargs)

    async def counted_approve(**kwargs: Any) -> Any:
        approvals.append(kwargs["decision"])
        return await approve(**kwargs)

    monkeypatch.setattr(service.engine, "snapshot", slow_snapshot)
    monkeypatch.setattr(service.engine, "approve", counted_approve)
    answer = {"decision": "Rejected", "by": "alice", "reason": "not now", "step": "ask"}
    await kube.patch("Remediation", "crashloop-1", {"spec": {"approval": answer}}, "shop", api_version=API)
    await asyncio.gather(service.approval_changed(stored(api)), service.approval_changed(stored(api)))
    while service.tasks or service._background:
        await asyncio.gather(*service.tasks.values(), *service._background, return_exceptions=True)
    assert approvals == ["Rejected"]
    assert stored(api)["status"]["phase"] in ("Failed", "Cancelled")
    assert ledger.done() == []


async def test_an_answer_naming_another_approval_never_passes_this_one(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    two = {"name": "two", "action": {"name": "record", "params": {"name": "two"}}}
    steps = [*ASK, {"name": "again", "approval": {"message": "sure?"}}, two]
    api.add(template(steps=steps))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)
    await settle(service, uid)
    # An early answer for the second approval, and a stale-looking one naming nothing: neither passes "ask".
    for answer in ({"decision": "Approved", "step": "again"}, {"decision": "Approved"}):
        await kube.patch("Remediation", "crashloop-1", {"spec": {"approval": answer}}, "shop", api_version=API)
        await service.approval_changed(stored(api))
        await settle(service, uid)
        assert stored(api)["status"]["phase"] == "WaitingApproval"
        assert ledger.done() == []
    # Answering "ask" lets the run go on to "again", which only an answer naming it passes.
    await kube.patch(
        "Remediation",
        "crashloop-1",
        {"spec": {"approval": {"decision": "Approved", "step": "ask"}}},
        "shop",
        api_version=API,
    )
    await service.approval_changed(stored(api))
    await settle(service, uid)
    assert ledger.done() == ["one"]
    assert stored(api)["status"]["approval"]["step"] == "again"
    await kube.patch(
        "Remediation",
        "crashloop-1",
        {"spec": {"approval": {"decision": "Approved", "step": "again"}}},
        "shop",
        api_version=API,
    )
    await service.approval_changed(stored(api))
    await settle(service, uid)
    assert ledger.done() == ["one", "two"]
    assert stored(api)["status"]["phase"] == "Succeeded"


async def test_an_answer_waiting_for_the_run_does_not_hold_up_a_cancel(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)  # the run is on its way to its approval in a task
    await service.approval_changed({**rem, "spec": {**rem["spec"], "approval": {"decision": "Approved", "step": "x"}}})
    await service.cancel(rem)  # returns once the run stopped; the answer held nothing up
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "Cancelled"
    assert ledger.done() == []


async def test_an_answer_already_in_the_spec_is_given_when_the_run_pauses(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation(approval={"decision": "Rejected", "reason": "not now", "step": "ask"}))
    service = make_service()
    await service.start(rem)
    await settle(service, rem["metadata"]["uid"])
    assert stored(api)["status"]["approval"]["decision"] == "Rejected"
    assert stored(api)["status"]["phase"] != "Succeeded"
    assert ledger.done() == []


async def test_cancel_stops_a_waiting_run(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)
    await settle(service, rem["metadata"]["uid"])
    await service.cancel(rem)
    assert stored(api)["status"]["phase"] == "Cancelled"
    assert ledger.done() == []
    (never,) = api.add(remediation("never-started"))
    await service.cancel(never)  # no run: nothing to stop
    assert "status" not in stored(api, "never-started")


async def test_a_restarted_operator_resumes_from_the_checkpoint_and_honours_a_cancel_in_the_spec(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    first = make_service()
    await first.start(rem)
    await settle(first, rem["metadata"]["uid"])
    await kube.patch("Remediation", "crashloop-1", {"spec": {"cancel": True}}, "shop", api_version=API)
    reads_before = len(api.requests)
    second = make_service()
    await second.start(stored(api))
    await settle(second, rem["metadata"]["uid"])
    assert stored(api)["status"]["phase"] == "Cancelled"
    # Resuming re-reads nothing to resolve: the only reads are the template for rollbackOnCancel.
    gets = {r.path for r in api.requests[reads_before:] if r.method == "GET"}
    # (and the Remediation itself, read for a stored answer once the run is found waiting)
    template_path = f"/apis/{API}/namespaces/shop/workflowtemplates/restart"
    assert template_path in gets
    assert gets <= {template_path, f"/apis/{API}/namespaces/shop/remediations/crashloop-1"}
    assert ledger.done() == []


async def test_cancel_undoes_completed_steps_when_the_template_asks(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    steps = [{"name": "first", "action": {"name": "record", "params": {"name": "first"}}}, *ASK]
    api.add(template(steps=steps, safety={"rollbackOnCancel": True}))
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)
    await settle(service, rem["metadata"]["uid"])
    await service.cancel(rem)
    assert ledger.events == ["do:first", "undo:first"]
    assert stored(api)["status"]["undone"] == ["first"]


async def test_cancel_without_its_template_stops_without_undoing(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    steps = [{"name": "first", "action": {"name": "record", "params": {"name": "first"}}}, *ASK]
    api.add(template(steps=steps, safety={"rollbackOnCancel": True}))
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)
    await settle(service, rem["metadata"]["uid"])
    await kube.delete("WorkflowTemplate", "restart", "shop", api_version=API)
    await service.cancel(rem)
    assert stored(api)["status"]["phase"] == "Cancelled"
    assert ledger.events == ["do:first"]


async def test_status_writes_that_fail_for_a_while_neither_fail_nor_strand_the_run(
    api: FakeKubeApi, make_service: Callable[[], RemediationService]
) -> None:
    api.add(template())
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)  # accepted; the run's own task has not taken a step yet
    # The API server throttles the run's status writes for a while (429, then 500): best effort, retried.
    api.fail(method="PATCH", path_has="/remediations/crashloop-1/status", status=429, times=2)
    api.fail(method="PATCH", path_has="/remediations/crashloop-1/status", status=500, times=1)
    await settle(service, rem["metadata"]["uid"])
    assert service.tasks == {}
    assert stored(api)["status"]["phase"] == "Succeeded"


async def test_a_burst_of_remediations_cannot_slip_past_the_hourly_budget(
    api: FakeKubeApi, make_service: Callable[[], RemediationService]
) -> None:
    api.add(template(steps=ASK, safety={"maxRunsPerHour": 2, "cooldown": "0s"}))
    burst = api.add(*(remediation(f"burst-{i}") for i in range(5)))
    service = make_service()
    await asyncio.gather(*(service.start(body) for body in burst))
    for body in burst:
        await settle(service, body["metadata"]["uid"])
    phases = sorted(stored(api, f"burst-{i}")["status"]["phase"] for i in range(5))
    assert phases == ["Failed", "Failed", "Failed", "WaitingApproval", "WaitingApproval"]
    refused = [stored(api, f"burst-{i}")["status"]["message"] for i in range(5)]
    assert sum(m.startswith("RateLimited") for m in refused) == 3


async def test_a_run_whose_task_dies_is_resumed(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], monkeypatch: pytest.MonkeyPatch
) -> None:
    from suture.runs import service as service_module

    monkeypatch.setattr(service_module, "REVIVE_DELAYS", (0.0, 0.0))
    api.add(template(steps=ASK))
    (rem,) = api.add(remediation())
    service = make_service()
    real_start = service.engine.start
    calls = 0

    async def dies_once(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the checkpointer's connection dropped")
        return await real_start(**kwargs)

    monkeypatch.setattr(service.engine, "start", dies_once)
    await service.start(rem)
    with pytest.raises(RuntimeError):
        await settle(service, rem["metadata"]["uid"])

    async def waiting() -> bool:
        return (stored(api).get("status") or {}).get("phase") == "WaitingApproval"

    await wait_for(waiting, timeout=10, what="the revived run to reach its approval")
    assert calls == 2


async def test_the_leader_adopts_every_unfinished_run_and_leaves_finished_ones_alone(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (fresh,) = api.add(remediation("never-handed-over"))  # kopf's events never reached the leader
    for name, phase in (("done", "Succeeded"), ("checking", "Verifying")):
        body = remediation(name)
        body["status"] = {"phase": phase}
        api.add(body)
    service = make_service()
    assert await service.adopt(["shop"]) == 1
    await settle(service, fresh["metadata"]["uid"])
    assert stored(api, "never-handed-over")["status"]["phase"] == "WaitingApproval"
    assert stored(api, "done")["status"] == {"phase": "Succeeded"}
    assert stored(api, "checking")["status"] == {"phase": "Verifying"}
    assert await service.adopt(["shop"]) == 0  # waiting for its approval, it is driven here already
    await service.drain(timeout=5)
    assert await service.adopt(["shop"]) == 0  # shutting down: nothing more starts


async def test_adoption_between_listings_reads_only_the_runs_the_watch_shows_unsettled(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ASK))
    (missed,) = api.add(remediation("missed"))  # the watch showed it; kopf's handlers never started it
    (gone,) = api.add(remediation("gone"))
    done = remediation("done")
    done["status"] = {"phase": "Succeeded"}
    (done,) = api.add(done)
    service = make_service()
    for body in (missed, gone, done):
        service.observe(None, body)  # kopf's first listing
    service.observe("DELETED", gone)
    api.requests.clear()
    assert await service.adopt(["shop"], listing=False) == 1
    await settle(service, missed["metadata"]["uid"])
    assert stored(api, "missed")["status"]["phase"] == "WaitingApproval"
    reads = [(r.method, r.path) for r in api.requests if "remediations" in r.path and r.method == "GET"]
    assert reads
    assert all(path.endswith("/remediations/missed") for _, path in reads), reads
    api.requests.clear()
    assert await service.adopt(["shop"], listing=False) == 0  # driven here now: not even read again
    assert not [r for r in api.requests if "remediations" in r.path and r.method == "GET"]
    await service.drain(timeout=5)


async def test_a_new_leader_starting_a_run_several_times_at_once_applies_no_step_twice(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="suture.runs")
    first = {"name": "first", "action": {"name": "record", "params": {"name": "first"}}}
    api.add(template(steps=[first, *ASK]))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    old_leader = make_service()
    await old_leader.start(rem)
    await settle(old_leader, uid)
    assert stored(api)["status"]["phase"] == "WaitingApproval"
    answer = {"decision": "Approved", "by": "alice", "step": "ask"}
    await kube.patch("Remediation", "crashloop-1", {"spec": {"approval": answer}}, "shop", api_version=API)
    new_leader = make_service()
    # On takeover the adoption and kopf's waiting handlers (create and approval) may all start the run at once.
    await asyncio.gather(new_leader.start(stored(api)), new_leader.start(stored(api)), new_leader.adopt(["shop"]))

    async def ended() -> bool:
        return bool(stored(api)["status"]["phase"] == "Succeeded")

    await wait_for(ended, what="the run's end")
    assert ledger.done() == ["first", "one"], ledger.events
    assert caplog.text.count("run resumed from its checkpoint") == 1, "one resumption, one task"


async def test_a_run_handed_off_by_the_receiver_starts_once_whatever_kopf_delivers_after(
    api: FakeKubeApi,
    make_service: Callable[[], RemediationService],
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="suture.runs")
    api.add(template())
    (created,) = api.add(remediation())  # the API server's answer to the receiver's create: no status yet
    uid = created["metadata"]["uid"]
    service = make_service()
    service.hand_off(created)
    await service.start(created)  # kopf's create event, with the same stale body, while the run may still go

    async def ended() -> bool:
        return (stored(api).get("status") or {}).get("phase") == "Succeeded" and uid not in service.tasks

    await wait_for(ended, what="the handed-off run's end")
    started = stored(api)["status"]["startTime"]
    await service.start(created)  # kopf's event arriving after the run finished: still the body from before it
    await service.start({**created, "status": {"startTime": started, "phase": "Running"}})  # read mid-run
    await service.start(stored(api))  # and any later, fresh body
    assert uid not in service.tasks
    assert ledger.done() == ["one"]
    assert caplog.text.count("run accepted") == 1
    assert "resumed" not in caplog.text
    assert stored(api)["status"]["startTime"] == started
    assert stored(api)["status"]["phase"] == "Succeeded"


async def test_a_hand_off_while_shutting_down_starts_nothing(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template())
    (created,) = api.add(remediation())
    service = make_service()
    await service.drain(timeout=1)
    service.hand_off(created)
    await asyncio.sleep(0)
    assert service.tasks == {}
    assert ledger.events == []
