"""Run controls through the Remediation: spec.paused pauses and continues a run, spec.retry runs a Failed
run again from the step that failed (what suture pause NAME / resume NAME / retry NAME write)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from suture.actions import Registry
from suture.approvals import request_pause, request_retry
from suture.engine import Engine
from suture.errors import ConflictError
from suture.kube import KubeClient
from suture.runs import KubeStatusSink, RemediationService
from suture.store import History
from tests.conftest import wait_for
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation, template
from tests.unit.engine.fakes import Ledger
from tests.unit.runs.holds import Hold, phase_is

ONE_TWO = [
    {"name": "one", "action": {"name": "record", "params": {"name": "one"}}},
    {"name": "two", "action": {"name": "record", "params": {"name": "two"}}},
]
FAILS_ONCE = [
    {"name": "one", "action": {"name": "record", "params": {"name": "one"}}},
    {"name": "shaky", "action": {"name": "flaky", "params": {"name": "shaky", "failures": 1, "category": "invalid"}}},
    {"name": "two", "action": {"name": "record", "params": {"name": "two"}}},
]


@pytest.fixture
async def make_service(
    kube: KubeClient, registry: Registry, history: History
) -> AsyncIterator[Callable[[], RemediationService]]:
    """Services sharing one checkpointer, as an operator and its restarted self do."""
    saver = InMemorySaver()
    engines: list[Engine] = []

    def build() -> RemediationService:
        sink = KubeStatusSink(kube)
        engine = Engine(registry=registry, kube=kube, checkpointer=saver, sink=sink)
        engines.append(engine)
        return RemediationService(engine=engine, kube=kube, sink=sink, registry=registry, history=history)

    yield build
    for engine in engines:
        await engine.aclose()


def stored(api: FakeKubeApi) -> dict[str, Any]:
    return dict(api.get("Remediation", "crashloop-1", "shop"))


async def settle(service: RemediationService, uid: str) -> None:
    task = service.tasks.get(uid)
    if task is not None:
        await task


async def test_spec_paused_pauses_the_run_and_false_continues_it_where_it_stopped(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ONE_TWO))
    (rem,) = api.add(remediation(paused=True))
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "Paused"
    assert stored(api)["status"]["message"] == "paused before step one"
    assert ledger.done() == []
    await request_pause(kube, namespace="shop", name="crashloop-1", paused=False)
    await service.pause_changed(stored(api))
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "Succeeded"
    assert ledger.done() == ["one", "two"]
    assert "RunPaused" in {e["reason"] for e in api.objects("Event")}


async def test_a_resume_written_as_the_paused_runs_task_ends_is_not_lost(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The task saw the run Paused with the spec still asking for it, and is ending when the pause is
    withdrawn: kopf calls the handler once, finds the task, and the run must still go on after it ends."""
    api.add(template(steps=ONE_TWO))
    (rem,) = api.add(remediation(paused=True))
    uid = rem["metadata"]["uid"]
    service = make_service()
    hold = Hold(monkeypatch, service, "_learn_from_failure")
    await service.start(rem)
    await asyncio.wait_for(hold.reached.wait(), 10)
    assert stored(api)["status"]["phase"] == "Paused"
    await request_pause(kube, namespace="shop", name="crashloop-1", paused=False)
    await service.pause_changed(stored(api))  # the task is still there
    hold.release()
    await wait_for(phase_is(api, "Succeeded"), timeout=10, what="the resumed run's end")
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "Succeeded"
    assert ledger.done() == ["one", "two"]


async def test_a_paused_run_stays_paused_across_a_restart_and_resumes_after_it(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ONE_TWO))
    (rem,) = api.add(remediation(paused=True))
    uid = rem["metadata"]["uid"]
    first = make_service()
    await first.start(rem)
    await settle(first, uid)
    await first.aclose()
    restarted = make_service()
    await restarted.start(stored(api))  # kopf's resume handler after a restart
    await settle(restarted, uid)
    assert stored(api)["status"]["phase"] == "Paused"
    assert ledger.done() == []
    await request_pause(kube, namespace="shop", name="crashloop-1", paused=False)
    await restarted.pause_changed(stored(api))
    await settle(restarted, uid)
    assert stored(api)["status"]["phase"] == "Succeeded"
    assert ledger.done() == ["one", "two"]


async def test_a_pause_withdrawn_while_no_operator_ran_continues_at_the_next_start(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=ONE_TWO))
    (rem,) = api.add(remediation(paused=True))
    uid = rem["metadata"]["uid"]
    first = make_service()
    await first.start(rem)
    await settle(first, uid)
    await first.aclose()
    await request_pause(kube, namespace="shop", name="crashloop-1", paused=False)  # the operator is down
    restarted = make_service()
    await restarted.start(stored(api))
    await settle(restarted, uid)
    assert stored(api)["status"]["phase"] == "Succeeded"
    assert ledger.done() == ["one", "two"]


async def test_retry_runs_a_failed_run_again_from_the_failed_step_and_records_the_attempt(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=FAILS_ONCE))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "Failed"
    assert await request_retry(kube, namespace="shop", name="crashloop-1") == 2
    await service.retry(stored(api))
    await settle(service, uid)
    status = stored(api)["status"]
    assert status["phase"] == "Succeeded", status["message"]
    assert "completionTime" in status
    (record,) = status["retries"]
    assert (record["attempt"], record["step"]) == (2, "shaky")
    assert "failure 1" in record["previousMessage"]
    assert ledger.done() == ["one", "shaky", "two"]  # step one was not applied again
    assert "RetryStarted" in {e["reason"] for e in api.objects("Event")}
    with pytest.raises(ConflictError, match="only a Failed run"):
        await request_retry(kube, namespace="shop", name="crashloop-1")


class _SlowLearner:
    """Learns a failure only when let go: the run's task is still there after its Failed status is written."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.recorded: list[str] = []

    async def record(self, **kwargs: Any) -> None:
        await self.go.wait()
        self.recorded.append(str(kwargs["outcome"]))


async def test_a_retry_asked_for_while_the_failed_run_is_still_learning_is_not_lost(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=FAILS_ONCE))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    service.learner = learner = _SlowLearner()  # type: ignore[assignment]
    await service.start(rem)
    await wait_for(phase_is(api, "Failed"), timeout=10, what="the run's failure")
    assert stored(api)["status"]["phase"] == "Failed"
    assert uid in service.tasks  # still learning from the failure
    await request_retry(kube, namespace="shop", name="crashloop-1")
    await service.retry(stored(api))  # kopf calls the handler once for this change
    learner.go.set()
    await wait_for(phase_is(api, "Succeeded"), timeout=10, what="the retried run's end")
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "Succeeded", stored(api)["status"]
    assert ledger.done() == ["one", "shaky", "two"]
    assert learner.recorded == ["Ineffective"]


async def test_a_retry_asked_for_while_no_operator_ran_happens_at_the_next_start(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    api.add(template(steps=FAILS_ONCE))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    first = make_service()
    await first.start(rem)
    await settle(first, uid)
    await first.aclose()
    await request_retry(kube, namespace="shop", name="crashloop-1")
    restarted = make_service()
    await restarted.start(stored(api))
    await settle(restarted, uid)
    assert stored(api)["status"]["phase"] == "Succeeded"
    assert ledger.done() == ["one", "shaky", "two"]


async def test_a_rolled_back_run_is_not_retried(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], ledger: Ledger
) -> None:
    steps = [ONE_TWO[0], {**FAILS_ONCE[1], "onFailure": "rollback"}]
    api.add(template(steps=steps))
    (rem,) = api.add(remediation())
    uid = rem["metadata"]["uid"]
    service = make_service()
    await service.start(rem)
    await settle(service, uid)
    assert stored(api)["status"]["phase"] == "RolledBack"
    await kube.patch("Remediation", "crashloop-1", {"spec": {"retry": 1}}, "shop", api_version="suture.dev/v1alpha1")
    await service.retry(stored(api))
    assert uid not in service.tasks
    assert stored(api)["status"]["phase"] == "RolledBack"
    refused = [e for e in api.objects("Event") if e["reason"] == "RetryRefused"]
    assert refused
    assert "RolledBack" in refused[0]["message"]


async def test_the_run_records_the_template_version_it_was_accepted_with(
    api: FakeKubeApi, make_service: Callable[[], RemediationService]
) -> None:
    (stored_template,) = api.add(template(steps=ONE_TWO))
    (rem,) = api.add(remediation())
    service = make_service()
    await service.start(rem)
    await settle(service, rem["metadata"]["uid"])
    version = stored(api)["status"]["templateVersion"]
    assert version["generation"] == stored_template["metadata"].get("generation")
    assert len(version["hash"]) == 16
    from suture.api import WorkflowTemplate

    assert version["hash"] == WorkflowTemplate.model_validate(stored_template).content_hash()
    edited = WorkflowTemplate.model_validate({**stored_template, "spec": {"steps": ONE_TWO[:1]}})
    assert edited.content_hash() != version["hash"]
