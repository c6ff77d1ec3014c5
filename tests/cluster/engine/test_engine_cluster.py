"""The engine against a real API server with the real action registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from suture.actions import load_registry
from suture.api import WorkflowTemplateSpec
from suture.engine import Engine, RecordingSink, RunRequest, open_checkpointer
from suture.kube import KubeClient
from tests.conftest import deployment, wait_for


@pytest.fixture
async def engine(kube: KubeClient, tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_checkpointer(location=str(tmp_path / "runs.sqlite")) as saver:
        engine = Engine(registry=load_registry(), kube=kube, checkpointer=saver, sink=RecordingSink())
        yield engine
        await engine.aclose()


async def _replicas(kube: KubeClient, namespace: str, name: str) -> int:
    obj = await kube.get("Deployment", name, namespace)
    return int(obj["spec"]["replicas"])


async def _deploy(kube: KubeClient, namespace: str, name: str, replicas: int, **labels: str) -> dict[str, Any]:
    body = deployment(name, replicas, labels={"app": name, **labels})
    return dict(await kube.create("Deployment", body, namespace))


def _spec(*steps: dict[str, Any]) -> WorkflowTemplateSpec:
    return WorkflowTemplateSpec.model_validate({"steps": list(steps), "timeouts": {"step": "60s"}})


async def test_branch_on_a_resource_field_then_wait_until_ready(
    engine: Engine, kube: KubeClient, namespace: str
) -> None:
    target = await _deploy(kube, namespace, "web", 1)
    await _deploy(kube, namespace, "api", 1)
    spec = _spec(
        {
            "name": "too-few",
            "condition": {
                "check": {"resource": {"field": "spec.replicas", "operator": "LessThan", "value": 3}},
                "then": "scale-web",
                "else": "end",
            },
        },
        {"name": "scale-web", "action": {"name": "scale_deployment", "params": {"replicas": 3}}},
        {
            "name": "ready",
            "wait": {
                "until": {"resource": {"field": "status.readyReplicas", "operator": "GreaterOrEqual", "value": 3}},
                "interval": "200ms",
                "timeout": "60s",
            },
        },
        {
            "name": "scale-api",
            "action": {
                "name": "scale_deployment",
                "params": {"name": "api", "replicas": "${{ steps['scale-web'].output.previous + 1 }}"},
            },
        },
    )
    out = await engine.start(
        request=RunRequest(run_id=f"{namespace}-branch", template=spec, target=target, namespace=namespace)
    )
    assert out.phase == "Succeeded", out.message
    assert out.steps["too-few"]["output"] == {"result": True}
    assert await _replicas(kube, namespace, "web") == 3
    assert await _replicas(kube, namespace, "api") == 2
    ready = await kube.get("Deployment", "web", namespace)
    assert ready["status"]["readyReplicas"] >= 3

    # The same template on a target that already has enough replicas takes the else branch.
    again = await engine.start(
        request=RunRequest(run_id=f"{namespace}-branch-2", template=spec, target=ready, namespace=namespace)
    )
    assert again.phase == "Succeeded"
    assert again.steps["too-few"]["output"] == {"result": False}
    assert "scale-web" not in again.steps


async def test_failure_rolls_back_two_real_scale_steps(engine: Engine, kube: KubeClient, namespace: str) -> None:
    target = await _deploy(kube, namespace, "web", 1)
    await _deploy(kube, namespace, "api", 2)
    spec = _spec(
        {"name": "scale-web", "action": {"name": "scale_deployment", "params": {"replicas": 4}}},
        {"name": "scale-api", "action": {"name": "scale_deployment", "params": {"name": "api", "replicas": 5}}},
        {
            "name": "scale-ghost",
            "onFailure": "rollback",
            "action": {"name": "scale_deployment", "params": {"name": "ghost", "replicas": 1}},
        },
    )
    out = await engine.start(
        request=RunRequest(run_id=f"{namespace}-rb", template=spec, target=target, namespace=namespace)
    )
    assert out.phase == "RolledBack", out.message
    assert out.undone == ["scale-api", "scale-web"]
    assert "not found" in out.steps["scale-ghost"]["message"]
    assert await _replicas(kube, namespace, "web") == 1
    assert await _replicas(kube, namespace, "api") == 2


async def test_namespace_confinement_reaches_actions(engine: Engine, kube: KubeClient, namespace: str) -> None:
    target = await _deploy(kube, namespace, "web", 1)
    spec = _spec(
        {
            "name": "escape",
            "action": {"name": "scale_deployment", "params": {"namespace": "kube-system", "name": "x", "replicas": 1}},
        }
    )
    out = await engine.start(
        request=RunRequest(run_id=f"{namespace}-ns", template=spec, target=target, namespace=namespace)
    )
    assert out.phase == "Failed"
    assert "outside this template's namespace" in out.message


async def test_rollout_second_wave_fails_its_gate_and_is_undone(
    engine: Engine, kube: KubeClient, namespace: str
) -> None:
    for name in ("web-a", "web-b", "web-c"):
        await _deploy(kube, namespace, name, 1, tier="front")
    await _deploy(kube, namespace, "other", 1, tier="back")
    target = await kube.get("Deployment", "web-a", namespace)
    spec = _spec(
        {
            "name": "roll",
            "rollout": {
                "targets": {"kind": "Deployment", "selector": {"matchLabels": {"tier": "front"}}},
                "waves": [33, 66, 100],
                "action": {"name": "scale_deployment", "params": {"replicas": 2}},
                # Healthy while web-b is untouched: wave 1 (web-a) passes, wave 2 (web-b) fails.
                "healthGate": {
                    "check": {
                        "resource": {"name": "web-b", "field": "spec.replicas", "operator": "LessThan", "value": 2}
                    },
                    "duration": "400ms",
                    "interval": "100ms",
                },
            },
        },
    )
    out = await engine.start(
        request=RunRequest(run_id=f"{namespace}-roll", template=spec, target=target, namespace=namespace)
    )
    assert out.phase == "Failed", out.message
    roll = out.steps["roll"]
    assert "wave 2 failed its health gate" in roll["message"]
    assert roll["output"]["applied"] == ["web-a", "web-b"]
    assert roll["output"]["undone"] == ["roll/web-b", "roll/web-a"]
    for name in ("web-a", "web-b", "web-c", "other"):
        assert await _replicas(kube, namespace, name) == 1, name


async def test_rollout_that_passes_every_gate(engine: Engine, kube: KubeClient, namespace: str) -> None:
    for name in ("svc-a", "svc-b", "svc-c"):
        await _deploy(kube, namespace, name, 1, tier="front")
    target = await kube.get("Deployment", "svc-a", namespace)
    spec = _spec(
        {
            "name": "roll",
            "rollout": {
                "targets": {"kind": "Deployment", "selector": {"matchLabels": {"tier": "front"}}},
                "waves": [50, 100],
                "action": {"name": "scale_deployment", "params": {"replicas": 2}},
                "healthGate": {"check": {"expression": "size(item.objects) <= 3"}, "duration": "0s"},
            },
        },
    )
    out = await engine.start(
        request=RunRequest(run_id=f"{namespace}-roll-ok", template=spec, target=target, namespace=namespace)
    )
    assert out.phase == "Succeeded", out.message
    assert out.steps["roll"]["output"]["waves"] == [2, 3]
    for name in ("svc-a", "svc-b", "svc-c"):
        assert await _replicas(kube, namespace, name) == 2


async def test_a_target_replaced_while_the_run_waited_is_not_touched(
    engine: Engine, kube: KubeClient, namespace: str
) -> None:
    original = await _deploy(kube, namespace, "web", 1)
    spec = _spec(
        {"name": "ask", "approval": {"message": "scale web?"}},
        {"name": "scale", "action": {"name": "scale_deployment", "params": {"replicas": 4}}},
    )
    request = RunRequest(run_id="pinned-1", template=spec, target=original, namespace=namespace)
    assert (await engine.start(request=request)).phase == "WaitingApproval"
    # Deleted and re-created under the same name while the run waited for its approval.
    await kube.delete("Deployment", "web", namespace, propagation="Foreground")
    await wait_for(_gone(kube, namespace, "web"), timeout=30)
    await _deploy(kube, namespace, "web", 1)

    outcome = await engine.approve(run_id="pinned-1", decision="Approved")

    assert outcome.phase == "Failed"
    assert "replaced (new uid)" in outcome.message
    assert await _replicas(kube, namespace, "web") == 1


def _gone(kube: KubeClient, namespace: str, name: str) -> Any:
    async def probe() -> bool:
        return await kube.get_or_none("Deployment", name, namespace) is None

    return probe
