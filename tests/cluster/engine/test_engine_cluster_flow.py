"""Parallel groups, fan-out, approval and cancellation with real scale actions."""

from __future__ import annotations

import asyncio
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
    return int((await kube.get("Deployment", name, namespace))["spec"]["replicas"])


def _scale(name: str, replicas: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "action": {"name": "scale_deployment", "params": {"name": name, "replicas": replicas}},
        **extra,
    }


async def test_parallel_group_and_foreach(engine: Engine, kube: KubeClient, namespace: str) -> None:
    for name in ("a", "b", "c", "d"):
        await kube.create("Deployment", deployment(name, 1), namespace)
    spec = WorkflowTemplateSpec.model_validate(
        {
            "steps": [
                {"name": "both", "parallel": {"steps": ["a", "b"]}},
                _scale("a", 2),
                _scale("b", 3),
                {"name": "each", "foreach": {"items": "${{ vars.more }}", "step": "more", "maxConcurrency": 2}},
                {
                    "name": "more",
                    "action": {"name": "scale_deployment", "params": {"name": "${{ item }}", "replicas": 4}},
                },
            ]
        }
    )
    out = await engine.start(
        request=RunRequest(run_id=f"{namespace}-pf", template=spec, variables={"more": ["c", "d"]}, namespace=namespace)
    )
    assert out.phase == "Succeeded", out.message
    assert [await _replicas(kube, namespace, n) for n in ("a", "b", "c", "d")] == [2, 3, 4, 4]
    assert [o["previous"] for o in out.steps["each"]["output"]["items"]] == [1, 1]


async def test_approval_approved_and_rejected(engine: Engine, kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 1), namespace)
    spec = WorkflowTemplateSpec.model_validate(
        {"steps": [{"name": "ask", "approval": {"message": "scale web to 3?"}}, _scale("web", 3)]}
    )
    waiting = await engine.start(request=RunRequest(run_id=f"{namespace}-no", template=spec, namespace=namespace))
    assert waiting.phase == "WaitingApproval"
    rejected = await engine.approve(run_id=f"{namespace}-no", decision="Rejected", by="alice")
    assert rejected.phase == "Cancelled"
    assert await _replicas(kube, namespace, "web") == 1

    await engine.start(request=RunRequest(run_id=f"{namespace}-yes", template=spec, namespace=namespace))
    assert await _replicas(kube, namespace, "web") == 1  # nothing happens before the answer
    approved = await engine.approve(run_id=f"{namespace}-yes", decision="Approved", by="bob")
    assert approved.phase == "Succeeded", approved.message
    assert await _replicas(kube, namespace, "web") == 3


async def test_cancel_mid_run_rolls_back(engine: Engine, kube: KubeClient, namespace: str) -> None:
    await kube.create("Deployment", deployment("web", 1), namespace)
    spec = WorkflowTemplateSpec.model_validate(
        {
            "steps": [
                {**_scale("web", 3), "name": "up"},
                {"name": "hold", "wait": {"duration": "10m"}},
                {**_scale("web", 5), "name": "more"},
            ]
        }
    )
    task = engine.submit(request=RunRequest(run_id=f"{namespace}-c", template=spec, namespace=namespace))

    async def scaled() -> bool:
        return await _replicas(kube, namespace, "web") == 3

    await wait_for(scaled, what="the first scale")
    await engine.cancel(run_id=f"{namespace}-c", rollback=True)
    out = await asyncio.wait_for(task, 30)
    assert out.phase == "Cancelled"
    assert out.undone == ["up"]
    assert await _replicas(kube, namespace, "web") == 1
