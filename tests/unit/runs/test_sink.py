"""The status sink: status patches and Events, repeats written once, a deleted Remediation tolerated."""

from __future__ import annotations

from typing import Any

import pytest

from suture.engine import ApprovalDecision, StepProgress
from suture.kube import ApiError, KubeClient
from suture.runs import KubeStatusSink
from suture.runs.events import MAX_MESSAGE, post_event
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation


@pytest.fixture
def stored(api: FakeKubeApi) -> dict[str, Any]:
    (rem,) = api.add(remediation())
    return rem


@pytest.fixture
def sink(kube: KubeClient, stored: dict[str, Any]) -> KubeStatusSink:
    sink = KubeStatusSink(kube)
    sink.track(run_id=stored["metadata"]["uid"], namespace="shop", name="crashloop-1", template="restart", status={})
    return sink


def status(api: FakeKubeApi) -> dict[str, Any]:
    return dict(api.get("Remediation", "crashloop-1", "shop").get("status") or {})


def reasons(api: FakeKubeApi) -> list[str]:
    return [e["reason"] for e in api.objects("Event")]


async def test_phases_are_written_with_start_and_completion_and_one_event_each(
    api: FakeKubeApi, sink: KubeStatusSink, stored: dict[str, Any]
) -> None:
    uid = stored["metadata"]["uid"]
    await sink.run_phase(run_id=uid, phase="Running", message="", undone=[])
    started = status(api)["startTime"]
    await sink.run_phase(run_id=uid, phase="Running", message="", undone=[])  # a repeat after a restart
    await sink.run_phase(run_id=uid, phase="Failed", message="step one failed", undone=["one"])
    final = status(api)
    assert final["phase"] == "Failed"
    assert final["startTime"] == started
    assert final["completionTime"]
    assert final["undone"] == ["one"]
    assert sorted(reasons(api)) == ["RunFailed", "RunRunning"]
    failed = next(e for e in api.objects("Event") if e["reason"] == "RunFailed")
    assert failed["type"] == "Warning"
    assert failed["involvedObject"]["uid"] == uid
    assert all(w.subresource == "status" for w in api.writes(kind="Remediation"))


async def test_steps_are_written_as_the_whole_list_and_events_only_on_phase_changes(
    api: FakeKubeApi, sink: KubeStatusSink, stored: dict[str, Any]
) -> None:
    uid = stored["metadata"]["uid"]
    await sink.step(run_id=uid, step=StepProgress(name="one", phase="Running", attempts=1))
    await sink.step(run_id=uid, step=StepProgress(name="one", phase="Running", attempts=1))
    await sink.step(
        run_id=uid,
        step=StepProgress(
            name="one",
            phase="Succeeded",
            attempts=1,
            start_time="2026-11-29T12:00:00Z",
            end_time="2026-11-29T12:00:05Z",
        ),
    )
    await sink.step(run_id=uid, step=StepProgress(name="two", phase="Failed", message="boom"))
    steps = status(api)["steps"]
    assert [(s["name"], s["phase"]) for s in steps] == [("one", "Succeeded"), ("two", "Failed")]
    assert sorted(reasons(api)) == ["StepFailed", "StepStarted", "StepSucceeded"]
    failed = next(e for e in api.objects("Event") if e["reason"] == "StepFailed")
    assert failed["message"] == "step two: boom"


async def test_approvals_are_recorded_with_who_and_an_unusual_answer_is_a_rejection(
    api: FakeKubeApi, sink: KubeStatusSink, stored: dict[str, Any]
) -> None:
    uid = stored["metadata"]["uid"]
    await sink.run_phase(run_id=uid, phase="WaitingApproval", message="", undone=[])
    await sink.approval(run_id=uid, decision=ApprovalDecision(step="ask", decision="Approved", by="alice", reason="ok"))
    assert status(api)["approval"]["by"] == "alice"
    await sink.run_phase(run_id=uid, phase="Running", message="", undone=[])
    await sink.approval(run_id=uid, decision=ApprovalDecision(step="ask", decision="Timeout"))
    assert status(api)["approval"]["decision"] == "Rejected"
    assert status(api)["approval"]["reason"] == "Timeout"
    assert "ApprovalApproved" in reasons(api)
    assert "ApprovalTimeout" in reasons(api)


async def test_a_deleted_remediation_is_skipped_but_other_failures_are_raised(
    api: FakeKubeApi, kube: KubeClient, sink: KubeStatusSink, stored: dict[str, Any]
) -> None:
    uid = stored["metadata"]["uid"]
    await kube.delete("Remediation", "crashloop-1", "shop", api_version="suture.dev/v1alpha1")
    await sink.run_phase(run_id=uid, phase="Running", message="", undone=[])  # a 404 needs no status
    api.add(remediation())
    api.fail(method="PATCH", path_has="/remediations/", status=500)
    with pytest.raises(ApiError) as caught:
        await sink.step(run_id=uid, step=StepProgress(name="one", phase="Running"))
    assert caught.value.status == 500


async def test_untracked_runs_are_ignored(api: FakeKubeApi, sink: KubeStatusSink, stored: dict[str, Any]) -> None:
    sink.forget(stored["metadata"]["uid"])
    await sink.run_phase(run_id=stored["metadata"]["uid"], phase="Running", message="", undone=[])
    await sink.step(run_id="unknown", step=StepProgress(name="one", phase="Running"))
    await sink.approval(run_id="unknown", decision=ApprovalDecision(step="ask", decision="Approved"))
    assert api.writes() == []


async def test_tracking_again_after_a_restart_keeps_the_stored_steps_and_start(
    api: FakeKubeApi, kube: KubeClient, stored: dict[str, Any]
) -> None:
    uid = stored["metadata"]["uid"]
    before = {"phase": "Running", "startTime": "2026-11-29T11:00:00Z", "steps": [{"name": "one", "phase": "Succeeded"}]}
    sink = KubeStatusSink(kube)
    sink.track(run_id=uid, namespace="shop", name="crashloop-1", template="restart", status=before)
    await sink.run_phase(run_id=uid, phase="Running", message="", undone=[])
    await sink.step(run_id=uid, step=StepProgress(name="two", phase="Running"))
    assert status(api)["startTime"] == "2026-11-29T11:00:00Z"
    assert [s["name"] for s in status(api)["steps"]] == ["one", "two"]
    assert reasons(api) == ["StepStarted"]  # Running was already the stored phase


async def test_events_are_best_effort_and_truncated(api: FakeKubeApi, kube: KubeClient) -> None:
    api.fail(method="POST", path_has="/events", status=403)
    await post_event(kube, namespace="shop", name="r", uid="u", reason="X", message="lost")
    await post_event(kube, namespace="shop", name="r", uid="u", reason="Y", message="m" * 5000, warning=True)
    (event,) = api.objects("Event")
    assert len(event["message"]) == MAX_MESSAGE
    assert event["type"] == "Warning"
    assert [w.status for w in api.writes(kind="Event")] == [201]  # the refused one never reached the store


async def test_unreadable_step_times_are_not_measured(
    api: FakeKubeApi, sink: KubeStatusSink, stored: dict[str, Any]
) -> None:
    step = StepProgress(name="one", phase="Succeeded", start_time="yesterday", end_time="2026-11-29T12:00:05Z")
    await sink.step(run_id=stored["metadata"]["uid"], step=step)
    assert status(api)["steps"][0]["phase"] == "Succeeded"
