"""Run controls on the real API server with `suture run` as a subprocess: pause a run mid-way, restart the
operator, resume it; retry a failed run from the step that failed."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from suture.api import API_VERSION
from suture.cli import main
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


def _template(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    spec = {"target": {"kind": "Deployment", "name": "web"}, "steps": steps}
    return {"apiVersion": API_VERSION, "kind": "WorkflowTemplate", "metadata": {"name": name}, "spec": spec}


def _remediation(name: str, template: str) -> dict[str, Any]:
    spec = {"templateRef": {"name": template}, "alert": {"name": "HighLoad", "labels": {"alertname": "HighLoad"}}}
    return {"apiVersion": API_VERSION, "kind": "Remediation", "metadata": {"name": name}, "spec": spec}


async def _create(kube: KubeClient, namespace: str, body: dict[str, Any]) -> None:
    await kube.create(body["kind"], body, namespace, api_version=API_VERSION)


def _phase_is(kube: KubeClient, namespace: str, *phases: str) -> Callable[[], Any]:
    async def probe() -> Any:
        got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
        return got if (got.get("status") or {}).get("phase") in phases else None

    return probe


def _step_is(kube: KubeClient, namespace: str, step: str, phase: str) -> Callable[[], Any]:
    async def probe() -> bool:
        got = await kube.get("Remediation", "r1", namespace, api_version=API_VERSION)
        return any(s["name"] == step and s["phase"] == phase for s in (got.get("status") or {}).get("steps") or [])

    return probe


async def _replicas(kube: KubeClient, namespace: str, name: str) -> int:
    return int((await kube.get("Deployment", name, namespace))["spec"]["replicas"])


async def _started(kube: KubeClient, namespace: str, step: str) -> int:
    events = await kube.list("Event", namespace, field_selector="involvedObject.name=r1")
    return sum(e["reason"] == "StepStarted" and f"step {step}" in e["message"] for e in events)


async def _cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_a_run_paused_mid_way_stays_paused_across_a_restart_and_finishes_after_resume(
    operator_proc: OperatorProcess, kube: KubeClient, kubeconfig: str, namespace: str
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "first", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        {"name": "settle", "wait": {"duration": "15s"}},
        {"name": "second", "action": {"name": "scale_deployment", "params": {"replicas": 5}}},
    ]
    await _create(kube, namespace, _template("two-scales", steps))
    await _create(kube, namespace, _remediation("r1", "two-scales"))
    await wait_for(_step_is(kube, namespace, "settle", "Running"), timeout=120, what="the run inside the wait")
    assert await _cli("pause", "r1", "-n", namespace, "--kubeconfig", kubeconfig) == 0
    paused = await wait_for(_phase_is(kube, namespace, "Paused", "Succeeded", "Failed"), timeout=120, what="Paused")
    assert paused["status"]["phase"] == "Paused", operator_proc.output()[-3000:]
    assert paused["status"]["message"] == "paused before step second"
    assert await _replicas(kube, namespace, "web") == 3

    await operator_proc.kill(signal.SIGKILL)
    await operator_proc.start()
    await wait_for(
        lambda: _logged(operator_proc, "run resumed from its checkpoint"), timeout=120, what="the restarted operator"
    )
    # The Paused status is written inside the pause step, before LangGraph checkpoints it: a kill in
    # between (likely under load) resumes the run before that step, which pauses it again. Either way
    # it must end up Paused with the second step never applied.
    await wait_for(_phase_is(kube, namespace, "Paused"), timeout=60, what="Paused again after the restart")
    assert await _replicas(kube, namespace, "web") == 3

    assert await _cli("resume", "r1", "-n", namespace, "--kubeconfig", kubeconfig) == 0
    done = await wait_for(_phase_is(kube, namespace, "Succeeded", "Failed"), timeout=120, what="the run's end")
    assert done["status"]["phase"] == "Succeeded", operator_proc.output()[-3000:]
    assert await _replicas(kube, namespace, "web") == 5
    assert await _started(kube, namespace, "first") == 1


async def test_a_failed_run_is_retried_from_the_failed_step_without_reapplying_earlier_ones(
    operator_proc: OperatorProcess, kube: KubeClient, kubeconfig: str, namespace: str
) -> None:
    await kube.create("Deployment", deployment("web", 2), namespace)
    steps = [
        {"name": "first", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        # api does not exist yet: this step fails, and the run stops Failed (onFailure abort)
        {"name": "scale-api", "action": {"name": "scale_deployment", "params": {"name": "api", "replicas": 4}}},
    ]
    await _create(kube, namespace, _template("web-then-api", steps))
    await _create(kube, namespace, _remediation("r1", "web-then-api"))
    failed = await wait_for(_phase_is(kube, namespace, "Failed", "Succeeded"), timeout=120, what="the failure")
    assert failed["status"]["phase"] == "Failed", operator_proc.output()[-3000:]
    assert "scale-api" in failed["status"]["message"]
    assert await _replicas(kube, namespace, "web") == 3
    # Reset web by hand: were step first applied again, web would be back at 3.
    await kube.patch("Deployment", "web", {"spec": {"replicas": 2}}, namespace)
    await kube.create("Deployment", deployment("api", 1), namespace)

    assert await _cli("retry", "r1", "-n", namespace, "--kubeconfig", kubeconfig) == 0
    done = await wait_for(_phase_is(kube, namespace, "Succeeded"), timeout=120, what="the retried run's success")
    assert await _replicas(kube, namespace, "api") == 4
    assert await _replicas(kube, namespace, "web") == 2
    (retry,) = done["status"]["retries"]
    assert (retry["attempt"], retry["step"]) == (2, "scale-api")
    assert await _started(kube, namespace, "first") == 1
    assert await _cli("retry", "r1", "-n", namespace, "--kubeconfig", kubeconfig) == 1  # not Failed: refused


async def _logged(proc: OperatorProcess, text: str) -> bool:
    return text in proc.output()
