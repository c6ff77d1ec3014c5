"""A namespaced template cannot leave its namespace through a subflow, whatever kind of template it calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from suture.actions import load_registry
from suture.engine import Engine, RunRequest
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment
from tests.unit.engine.fakes import FakeTemplates, template


@pytest.mark.parametrize("kind", ["WorkflowTemplate", "ClusterWorkflowTemplate"])
async def test_a_subflow_cannot_carry_a_namespaced_run_into_another_namespace(
    make_engine: Callable[..., Engine], api: FakeKubeApi, kind: str
) -> None:
    api.add(deployment("web", namespace="payments"))
    params = {"namespace": "payments", "name": "web", "replicas": 5}
    wide = {"steps": [{"name": "scale", "action": {"name": "scale_deployment", "params": params}}]}
    engine = make_engine(registry=load_registry(), templates=FakeTemplates({"wide": wide}))
    spec = template({"name": "call", "subflow": {"template": "wide", "kind": kind}})

    out = await engine.start(request=RunRequest(run_id=f"confined-{kind}", template=spec, namespace="shop"))

    assert out.phase == "Failed"
    assert "outside this template's namespace 'shop'" in out.steps["call/scale"]["message"]
    assert api.writes() == []
