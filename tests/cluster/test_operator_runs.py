"""The operator process runs Remediations end to end on the real API server.

These tests start `suture run` as a real subprocess, so they also prove the
operator survives `kill -9` and resumes from its checkpoints.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from suture.api import API_VERSION
from suture.kube import KubeClient
from tests.cluster.operator_process import OperatorProcess
from tests.conftest import deployment, wait_for


@pytest.fixture
async def operator_proc(
    kubeconfig: str, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> AsyncIterator[OperatorProcess]:
    proc = OperatorProcess(kubeconfig, tmp_path, namespace)
    await proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            await proc.kill(signal.SIGTERM)


def _template(name: str, steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {"target": {"kind": "Deployment", "name": "web"}, "steps": steps, **spec},
    }


def _remediation(name: str, template: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": name},
        "spec": {"templateRef": {"name": template}, "alert": {"name": "HighLoad", "labels": {"alertname": "HighLoad"}}},
    }


async def _create(kube: KubeClient, namespace: str, body: dict[str, Any]) -> Any:
    return await kube.create(body["kind"], body, namespace, api_version=body.get("apiVersion"))


def _phase_is(kube: KubeClient, namespace: str, name: str, *phases: str) -> Callable[[], Any]:
    async def probe() -> Any:
        got = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
        return got if (got.get("status") or {}).get("phase") in phases else None

    return probe


async def _events(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    events = await kube.list("Event", namespace, field_selector=f"involvedObject.name={name}")
    return sorted(events, key=lambda e: e.get("firstTimestamp") or "")


async def test_approved_run_scales_and_records_everything(
    operator_proc: OperatorProcess,
    kube: KubeClient,
    kubeconfig: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "ask", "approval": {"message": "scale web to 4?", "timeout": "5m"}},
        {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 4}}},
    ]
    await _create(kube, namespace, _template("scale-up", steps))
    await _create(kube, namespace, _remediation("r1", "scale-up"))
    await wait_for(_phase_is(kube, namespace, "r1", "WaitingApproval"), timeout=30, what="WaitingApproval")
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2

    from suture.approvals import answer_approval, whoami

    await answer_approval(kube, namespace=namespace, name="r1", decision="Approved", reason="go")
    done = await wait_for(_phase_is(kube, namespace, "r1", "Succeeded", "Failed"), timeout=30, what="the run's end")
    status = done["status"]
    assert status["phase"] == "Succeeded", (status, operator_proc.output()[-3000:])
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 4
    steps_by_name = {s["name"]: s for s in status["steps"]}
    assert steps_by_name["scale"]["phase"] == "Succeeded"
    assert steps_by_name["scale"]["output"]["previous"] == 2
    assert status["approval"]["decision"] == "Approved"
    assert status["approval"]["by"] == await whoami(kube)
    assert status["startTime"] <= status["completionTime"]
    web = await kube.get("Deployment", "web", namespace)
    assert status["target"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": namespace,
        "name": "web",
        "uid": web["metadata"]["uid"],
    }
    # Events are posted after the status write that announces the phase: wait for them, don't race them.
    expected = {"WaitingApproval", "ApprovalApproved", "StepSucceeded", "RunSucceeded"}

    async def all_posted() -> bool:
        return expected <= {e["reason"] for e in await _events(kube, namespace, "r1")}

    await wait_for(all_posted, timeout=15, what=f"the events {sorted(expected)}")

    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{operator_proc.metrics_port}/metrics") as response,
    ):
        exposition = await response.text()
    assert 'suture_runs_finished_total{phase="Succeeded",template="scale-up"} 1.0' in exposition
    assert 'suture_steps_finished_total{phase="Succeeded",step="scale",template="scale-up"} 1.0' in exposition
    assert "suture_runs_waiting_approval 0.0" in exposition

    from suture.cli import main

    assert await asyncio.to_thread(main, ["status", "r1", "-n", namespace, "--kubeconfig", kubeconfig]) == 0
    shown = capsys.readouterr().out
    assert "phase:     Succeeded" in shown
    assert f"approval:  Approved by {await whoami(kube)}" in shown
    assert any(line.startswith("scale") and "Succeeded" in line for line in shown.splitlines())


async def test_rejected_run_changes_nothing(operator_proc: OperatorProcess, kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "ask", "approval": {"message": "scale?", "timeout": "5m"}},
        {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 4}}},
    ]
    await _create(kube, namespace, _template("scale-up", steps))
    await _create(kube, namespace, _remediation("r1", "scale-up"))
    await wait_for(_phase_is(kube, namespace, "r1", "WaitingApproval"), timeout=30, what="WaitingApproval")
    from suture.approvals import answer_approval

    await answer_approval(kube, namespace=namespace, name="r1", decision="Rejected", reason="not now")
    done = await wait_for(
        _phase_is(kube, namespace, "r1", "Failed", "Cancelled", "Succeeded"), timeout=30, what="the run's end"
    )
    assert done["status"]["phase"] in ("Failed", "Cancelled")
    assert done["status"]["approval"]["decision"] == "Rejected"
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2


KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


async def test_a_settled_remediation_can_be_deleted_without_an_operator(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    """An active run holds the finalizer (deleting it must stop and undo); a finished one lets go of it."""
    steps = [
        {"name": "ask", "approval": {"message": "scale?", "timeout": "5m"}},
        {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
    ]
    for name in ("active", "done"):  # one target each: runs on one target queue behind each other
        await kube.create("Deployment", deployment(f"web-{name}", 2), namespace)
        template = _template(f"scale-{name}", steps)
        template["spec"]["target"]["name"] = f"web-{name}"
        await _create(kube, namespace, template)
        await _create(kube, namespace, _remediation(name, f"scale-{name}"))
    await wait_for(_phase_is(kube, namespace, "active", "WaitingApproval"), timeout=30, what="WaitingApproval")
    await wait_for(_phase_is(kube, namespace, "done", "WaitingApproval"), timeout=30, what="WaitingApproval")
    from suture.approvals import answer_approval

    await answer_approval(kube, namespace=namespace, name="done", decision="Rejected", reason="not now")
    try:
        await wait_for(_phase_is(kube, namespace, "done", "Failed", "Cancelled"), timeout=30, what="the run's end")
    except AssertionError as e:
        status = (await kube.get("Remediation", "done", namespace, api_version=API_VERSION)).get("status")
        raise AssertionError(f"{e}\nstatus: {status}\noperator output:\n{operator_proc.output()[-6000:]}") from None

    async def finalizers(name: str) -> list[str]:
        got = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
        return list(got["metadata"].get("finalizers") or [])

    async def released() -> bool:
        return KOPF_FINALIZER not in await finalizers("done")

    await wait_for(released, timeout=30, what="the finalizer to leave the finished Remediation")
    assert KOPF_FINALIZER in await finalizers("active")

    await operator_proc.kill(signal.SIGTERM)  # uninstalled: nobody is left to lift finalizers
    await kube.delete("Remediation", "done", namespace, api_version=API_VERSION)
    assert await kube.get_or_none("Remediation", "done", namespace, api_version=API_VERSION) is None
    await kube.delete("Remediation", "active", namespace, api_version=API_VERSION)
    held = await kube.get("Remediation", "active", namespace, api_version=API_VERSION)
    assert held["metadata"].get("deletionTimestamp")
    assert KOPF_FINALIZER in held["metadata"]["finalizers"]
    # The namespace fixture's clean-up must not hang on it.
    await kube.patch("Remediation", "active", {"metadata": {"finalizers": None}}, namespace, api_version=API_VERSION)


async def test_missing_template_is_refused_clearly(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await _create(kube, namespace, _remediation("r1", "does-not-exist"))
    done = await wait_for(_phase_is(kube, namespace, "r1", "Failed"), timeout=30, what="the refusal")
    assert "TemplateNotFound" in done["status"]["message"]
    assert "'does-not-exist'" in done["status"]["message"]


async def test_kill_9_mid_run_then_restart_finishes_without_repeating_steps(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "first", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        {"name": "pause", "wait": {"duration": "4s"}},
        {"name": "second", "action": {"name": "scale_deployment", "params": {"replicas": 5}}},
    ]
    await _create(kube, namespace, _template("two-scales", steps))
    await _create(kube, namespace, _remediation("r1", "two-scales"))

    async def pausing() -> bool:
        got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
        steps_now = {s["name"]: s["phase"] for s in (got.get("status") or {}).get("steps") or []}
        return steps_now.get("first") == "Succeeded" and steps_now.get("pause") == "Running"

    await wait_for(pausing, timeout=30, what="the run to be inside the pause")
    await operator_proc.kill(signal.SIGKILL)
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3

    await operator_proc.start()
    done = await wait_for(_phase_is(kube, namespace, "r1", "Succeeded", "Failed"), timeout=60, what="the run's end")
    assert done["status"]["phase"] == "Succeeded", operator_proc.output()[-3000:]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 5
    started = [e["message"] for e in await _events(kube, namespace, "r1") if e["reason"] == "StepStarted"]
    # The completed step never ran again; only the in-flight pause was re-entered.
    assert sum("step first" in m for m in started) == 1, started
    assert sum("step second" in m for m in started) == 1, started


async def _start_slow_run(kube: KubeClient, namespace: str) -> None:
    """Scale web 2 -> 3, then sit in a 5-minute pause (a run to stop mid-way); returns inside the pause."""
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "first", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        {"name": "pause", "wait": {"duration": "5m"}},
        {"name": "second", "action": {"name": "scale_deployment", "params": {"replicas": 5}}},
    ]
    await _create(kube, namespace, _template("slow", steps, safety={"rollbackOnCancel": True}))
    await _create(kube, namespace, _remediation("r1", "slow"))
    await wait_for(_step_is(kube, namespace, "r1", "pause", "Running"), timeout=30, what="the run inside the pause")


def _step_is(kube: KubeClient, namespace: str, name: str, step: str, phase: str) -> Callable[[], Any]:
    async def probe() -> bool:
        got = await kube.get("Remediation", name, namespace, api_version=API_VERSION)
        steps_now = {s["name"]: s["phase"] for s in (got.get("status") or {}).get("steps") or []}
        return steps_now.get(step) == phase

    return probe


async def test_cancel_stops_the_run_and_rolls_back(
    operator_proc: OperatorProcess, kube: KubeClient, kubeconfig: str, namespace: str
) -> None:
    await _start_slow_run(kube, namespace)
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3

    from suture.cli import main

    assert await asyncio.to_thread(main, ["cancel", "r1", "-n", namespace, "--kubeconfig", kubeconfig]) == 0
    done = await wait_for(
        _phase_is(kube, namespace, "r1", "Cancelled", "Failed", "RolledBack"), timeout=30, what="the run to stop"
    )
    assert done["status"]["phase"] == "Cancelled", operator_proc.output()[-3000:]
    assert done["status"]["undone"] == ["first"]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2
    phases = {s["name"]: s["phase"] for s in done["status"]["steps"]}
    assert "second" not in phases or phases["second"] == "Pending"


async def test_deleting_the_remediation_stops_the_run(
    operator_proc: OperatorProcess, kube: KubeClient, namespace: str
) -> None:
    await _start_slow_run(kube, namespace)
    await kube.delete("Remediation", "r1", namespace, api_version=API_VERSION)

    async def gone() -> bool:
        return await kube.get_or_none("Remediation", "r1", namespace, api_version=API_VERSION) is None

    # The operator's finalizer holds the object until the run has stopped and rolled back.
    await wait_for(gone, timeout=30, what="the Remediation to be deleted")
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2


async def test_two_approvals_across_a_restart_each_answer_passes_only_its_own(
    operator_proc: OperatorProcess, kube: KubeClient, kubeconfig: str, namespace: str
) -> None:
    from suture.cli import main

    await kube.create("Deployment", deployment("web", 1), namespace)
    steps = [
        {"name": "first-ask", "approval": {"message": "scale to 2?", "timeout": "5m"}},
        {"name": "to-two", "action": {"name": "scale_deployment", "params": {"replicas": 2}}},
        {"name": "second-ask", "approval": {"message": "scale to 3?", "timeout": "5m"}},
        {"name": "to-three", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
    ]
    await _create(kube, namespace, _template("two-asks", steps))
    await _create(kube, namespace, _remediation("r1", "two-asks"))
    await wait_for(_step_is(kube, namespace, "r1", "first-ask", "WaitingApproval"), timeout=30, what="first ask")
    assert await asyncio.to_thread(main, ["approve", "r1", "-n", namespace, "--kubeconfig", kubeconfig]) == 0
    await wait_for(_step_is(kube, namespace, "r1", "second-ask", "WaitingApproval"), timeout=30, what="second ask")
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2

    # Restarted with the first answer still in the spec: it must not pass the second question.
    await operator_proc.kill(signal.SIGKILL)
    await operator_proc.start()
    await wait_for(lambda: _logged(operator_proc, "second-ask"), timeout=30, what="the restarted operator to resume")
    got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
    assert got["spec"]["approval"]["step"] == "first-ask"
    assert got["status"]["phase"] == "WaitingApproval"
    assert got["status"]["approval"]["step"] == "second-ask"
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 2

    assert await asyncio.to_thread(main, ["approve", "r1", "-n", namespace, "--kubeconfig", kubeconfig]) == 0
    # Approving again (a retry of the command) is harmless.
    assert await asyncio.to_thread(main, ["approve", "r1", "-n", namespace, "--kubeconfig", kubeconfig]) in (0, 1)
    done = await wait_for(_phase_is(kube, namespace, "r1", "Succeeded", "Failed"), timeout=30, what="the run's end")
    assert done["status"]["phase"] == "Succeeded", operator_proc.output()[-3000:]
    assert (await kube.get("Deployment", "web", namespace))["spec"]["replicas"] == 3


async def _logged(proc: OperatorProcess, text: str) -> bool:
    return text in proc.output()


async def test_a_queued_run_that_is_cancelled_never_acts(
    kubeconfig: str, kube: KubeClient, namespace: str, tmp_path: Path, suture_crds: list[str]
) -> None:
    proc = OperatorProcess(kubeconfig, tmp_path, namespace, SUTURE_MAX_RUNS="1")
    await proc.start()
    try:
        await _start_slow_run(kube, namespace)  # r1 holds the only slot inside its 5-minute pause
        await kube.create("Deployment", deployment("api", 1), namespace)
        steps = [{"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 4}}}]
        queued = _template("scale-api", steps)
        queued["spec"]["target"] = {"kind": "Deployment", "name": "api"}
        await _create(kube, namespace, queued)
        await _create(kube, namespace, _remediation("r2", "scale-api"))
        await wait_for(lambda: _logged(proc, f"[{namespace}/r2] run accepted"), timeout=30, what="r2 to be queued")
        await kube.patch("Remediation", "r2", {"spec": {"cancel": True}}, namespace, api_version=API_VERSION)
        await kube.patch("Remediation", "r1", {"spec": {"cancel": True}}, namespace, api_version=API_VERSION)
        done = await wait_for(_phase_is(kube, namespace, "r2", "Cancelled", "Succeeded", "Failed"), timeout=30)
        assert done["status"]["phase"] == "Cancelled", proc.output()[-3000:]
        assert (await kube.get("Deployment", "api", namespace))["spec"]["replicas"] == 1
    finally:
        await proc.kill(signal.SIGTERM)
