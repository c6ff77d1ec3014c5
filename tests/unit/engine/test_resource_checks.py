"""Condition and wait steps that read live objects, against the in-memory API server."""

from __future__ import annotations

from typing import Any

import pytest

from suture.engine import Engine, RunRequest
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment
from tests.unit.engine.fakes import Ledger, rec, template


def branch(check: dict[str, Any]) -> dict[str, Any]:
    return {"name": "check", "condition": {"check": {"resource": check}, "then": "yes", "else": "no"}}


async def run(engine: Engine, api: FakeKubeApi, check: dict[str, Any], *, run_id: str) -> tuple[str, str]:
    target = api.get("Deployment", "web", "shop")
    spec = template(branch(check), rec("yes", next="end"), rec("no"))
    outcome = await engine.start(request=RunRequest(run_id=run_id, template=spec, target=target))
    return outcome.phase, outcome.steps["check"]["message"]


@pytest.mark.parametrize(
    ("check", "taken"),
    [
        ({"field": "status.readyReplicas", "operator": "GreaterOrEqual", "value": 2}, "yes"),
        ({"field": "spec.replicas", "operator": "LessThan", "value": 3}, "no"),
        ({"field": "metadata.labels.app", "value": "web"}, "yes"),
        ({"field": "spec.paused", "operator": "Exists"}, "no"),
    ],
)
async def test_a_condition_reads_the_targets_fields(
    engine: Engine, api: FakeKubeApi, ledger: Ledger, check: dict[str, Any], taken: str
) -> None:
    obj = deployment()
    obj["status"]["readyReplicas"] = 2
    api.add(obj)
    phase, message = await run(engine, api, check, run_id=f"rc-{taken}-{check['field']}")
    assert phase == "Succeeded"
    assert ledger.done() == [taken]
    assert message.startswith("Deployment shop/web ")


async def test_a_check_may_name_another_object_by_lookup(engine: Engine, api: FakeKubeApi, ledger: Ledger) -> None:
    api.add(deployment(), deployment("db", replicas=0))
    check = {"kind": "Deployment", "name": "${{ 'db' }}", "namespace": "shop", "field": "spec.replicas", "value": 0}
    await run(engine, api, check, run_id="other-object")
    assert ledger.done() == ["yes"]


async def test_a_missing_object_fails_the_check_step(engine: Engine, api: FakeKubeApi, ledger: Ledger) -> None:
    api.add(deployment())
    check = {"kind": "Deployment", "name": "ghost", "namespace": "shop", "field": "spec.replicas", "value": 1}
    phase, message = await run(engine, api, check, run_id="missing")
    assert phase == "Failed"
    assert "404" in message
    assert ledger.done() == []


async def test_a_server_that_answers_500_fails_the_check_as_transient(
    engine: Engine, api: FakeKubeApi, ledger: Ledger
) -> None:
    api.add(deployment())
    api.fail(method="GET", path_has="/deployments/web", status=500)
    phase, message = await run(engine, api, {"field": "spec.replicas", "value": 3}, run_id="flaky")
    assert phase == "Failed"
    assert "500" in message
