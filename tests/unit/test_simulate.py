"""`suture simulate` without a cluster: the engine's own run, with plan effects."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from suture.api import WorkflowTemplate
from suture.engine import Engine, RecordingSink, RunRequest, open_checkpointer
from suture.kube import KubeClient
from suture.simulation import Plan, simulate
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import deployment
from tests.unit.engine.fakes import FakePromQL, FakeTemplates, Ledger, make_registry, rec

ALERT = {"name": "KubePodCrashLooping", "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop"}}
# Stands in for a cluster: the fake actions never touch it, and these templates read nothing.
UNUSED_CLUSTER = cast(KubeClient, object())


def _template(*steps: dict[str, Any], **spec: Any) -> WorkflowTemplate:
    return WorkflowTemplate.model_validate(
        {
            "apiVersion": "suture.dev/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "t", "namespace": "shop"},
            "spec": {"steps": list(steps), **spec},
        }
    )


def _crashloop(**check: Any) -> WorkflowTemplate:
    """The shape of examples/templates/pod-crashlooping.yaml, with fake actions."""
    return _template(
        rec("collect", onFailure="continue"),
        {"name": "changed", "condition": {"check": check, "then": "ask", "else": "restart"}},
        {"name": "ask", "approval": {"message": "roll back?", "timeout": "30m"}},
        rec("rollback", next="wait-healthy"),
        rec("restart"),
        rec("wait-healthy"),
    )


def _path(plan: Plan) -> list[str]:
    return [s.path for s in plan.steps]


async def test_a_condition_that_cannot_be_evaluated_says_what_it_assumed_and_what_the_other_branch_runs() -> None:
    template = _crashloop(expression="int(target.metadata.annotations['deployment.kubernetes.io/revision']) > 1")
    plan = await simulate(template=template, alert=ALERT, registry=make_registry(Ledger()), kube=None)
    assert _path(plan) == ["collect", "changed", "restart", "wait-healthy"]
    changed = plan.steps[1]
    assert changed.outcome == "would-run"
    assert changed.detail.startswith("assumed false -> else: restart; true would run ask, rollback instead; ")
    assert "cannot evaluate now: " in changed.detail
    assert "target is not resolved" in changed.detail
    assert plan.ends == "completes"


async def test_a_live_check_without_a_cluster_or_prometheus_is_assumed_and_named() -> None:
    registry = make_registry(Ledger())
    needs_cluster = _crashloop(resource={"kind": "Deployment", "name": "web", "field": "spec.replicas", "value": 1})
    plan = await simulate(template=needs_cluster, alert=ALERT, registry=registry, kube=None)
    assert "it reads the live cluster, and this plan has none" in plan.steps[1].detail
    assert _path(plan)[2] == "restart"

    needs_prometheus = _crashloop(promql={"query": "up", "operator": ">", "threshold": 0})
    plan = await simulate(template=needs_prometheus, alert=ALERT, registry=registry, kube=None)
    assert "it needs Prometheus (--prometheus-url)" in plan.steps[1].detail

    plan = await simulate(
        template=needs_prometheus, alert=ALERT, registry=registry, kube=None, promql=FakePromQL([1.0])
    )
    assert plan.steps[1].detail == "PromQL 'up' = 1.0 > 0.0 -> then: ask"
    assert _path(plan) == ["collect", "changed", "ask", "rollback", "wait-healthy"]


async def test_actions_without_a_cluster_are_would_run_with_resolved_parameters_and_never_called() -> None:
    ledger = Ledger()
    template = _template(
        {"name": "note", "action": {"name": "record", "params": {"name": "${{ 'for-' + alert.labels.namespace }}"}}}
    )
    plan = await simulate(template=template, alert=ALERT, registry=make_registry(ledger), kube=None)
    (note,) = plan.steps
    assert (note.kind, note.outcome) == ("action", "would-run")
    assert note.params == {"name": "for-shop"}
    assert note.dry_run is None
    assert note.detail == "record: would run (no cluster to dry-run against)"
    assert ledger.events == []


async def test_waits_do_not_wait_and_approvals_are_assumed() -> None:
    template = _template(
        {"name": "grace", "wait": {"duration": "1h"}},
        {"name": "settle", "wait": {"until": {"expression": "vars.ready"}, "timeout": "10m"}},
        {"name": "ask", "approval": {"message": "go on?", "timeout": "30m"}},
        rec("after"),
        variables={"ready": False},
        safety={"requiresApproval": True},
    )
    async with asyncio.timeout(5):  # a real run would wait an hour and more
        plan = await simulate(template=template, alert=ALERT, registry=make_registry(Ledger()), kube=None)
    rows = {s.path: s for s in plan.steps}
    assert _path(plan) == ["safety.requiresApproval", "grace", "settle", "ask", "after"]
    assert (rows["grace"].outcome, rows["grace"].detail) == ("would-wait", "would wait 1h")
    assert rows["settle"].outcome == "would-wait"
    assert rows["settle"].detail == (
        "would wait until the check holds, at most 10m; now it does not hold: vars.ready is false"
    )
    assert rows["ask"].outcome == "would-ask"
    assert rows["ask"].detail == "would ask: go on? (timeout 30m); the plan assumes approval"
    assert rows["safety.requiresApproval"].outcome == "would-ask"
    assert plan.ends == "completes"


async def test_subflows_are_expanded_in_the_plan() -> None:
    child = {"steps": [rec("inner"), {"name": "pause", "wait": {"duration": "5m"}}]}
    template = _template(rec("before"), {"name": "call", "subflow": {"template": "child"}}, rec("after"))
    plan = await simulate(
        template=template,
        alert=ALERT,
        registry=make_registry(Ledger()),
        kube=None,
        templates=FakeTemplates({"child": child}),
    )
    assert _path(plan) == ["before", "call", "call/inner", "call/pause", "after"]
    assert plan.steps[1].kind == "subflow"
    assert plan.steps[3].outcome == "would-wait"


async def test_with_a_cluster_actions_are_dry_run_and_a_failure_ends_the_plan() -> None:
    ledger = Ledger()
    template = _template(
        rec("first"),
        {"name": "broken", "action": {"name": "flaky", "params": {"name": "b", "failures": 1, "category": "invalid"}}},
        rec("never"),
    )
    plan = await simulate(template=template, alert=ALERT, registry=make_registry(ledger), kube=UNUSED_CLUSTER)
    assert [c.dry_run for c in ledger.contexts] == [True]
    assert _path(plan) == ["first", "broken"]
    first, broken = plan.steps
    assert first.dry_run == {"changed": True, "message": "recorded first", "output": {"name": "first", "value": None}}
    assert (broken.outcome, broken.detail) == ("would-fail", "flaky: failure 1")
    assert broken.dry_run == {"error": "failure 1", "category": "invalid"}
    assert plan.ends == "stops at broken (abort)"


async def test_the_plan_takes_the_path_a_real_run_takes(tmp_path: Path) -> None:
    steps = (
        {"name": "big", "condition": {"check": {"expression": "vars.n > 3"}, "then": "scale-big"}},
        rec("scale-small", next="end"),
        rec("scale-big", when="vars.n < 100"),
        {"name": "each", "foreach": {"items": "${{ vars.items }}", "step": "fix"}},
        rec("fix"),
        {"name": "both", "parallel": {"steps": ["left", "right"]}},
        rec("left"),
        rec("right"),
        rec("last", onFailure="continue"),
    )
    variables = {"n": 5, "items": ["a", "b"]}
    plan = await simulate(
        template=_template(*steps), alert=ALERT, registry=make_registry(Ledger()), kube=None, variables=variables
    )
    sink = RecordingSink()
    async with open_checkpointer(location=str(tmp_path / "runs.sqlite")) as saver:
        engine = Engine(registry=make_registry(Ledger()), kube=UNUSED_CLUSTER, checkpointer=saver, sink=sink)
        out = await engine.start(
            request=RunRequest(run_id="real", template=_template(*steps).spec, alert=ALERT, variables=variables)
        )
    assert out.phase == "Succeeded", out.message
    real_path = list(dict.fromkeys(progress.name for _, progress in sink.steps))
    assert set(_path(plan)) == set(real_path)
    top = [n for n in real_path if n in ("big", "scale-small", "scale-big", "each", "both", "last")]
    assert [n for n in _path(plan) if n in top] == top == ["big", "scale-big", "each", "both", "last"]


def _three_deployments() -> KubeClient:
    """An in-memory API with three Deployments for the rollout to list (nothing else is read)."""
    api = FakeKubeApi()
    for name in ("c", "a", "b"):
        obj = deployment(name, namespace="shop")
        obj["metadata"]["labels"]["tier"] = "web"
        api.add(obj)
    return api.client()


async def test_a_rollout_plans_every_object_dry_run_and_reports_each_gate_once() -> None:
    ledger = Ledger()
    template = _template(
        {
            "name": "roll",
            "onFailure": "rollback",
            "rollout": {
                "targets": {"kind": "Deployment", "namespace": "shop", "selector": {"matchLabels": {"tier": "web"}}},
                "waves": [50, 100],
                "action": {"name": "record", "params": {"name": "${{ item.metadata.name }}"}},
                "healthGate": {"check": {"expression": "vars.healthy"}, "duration": "5m"},
                "approveBetweenWaves": True,
            },
        },
        variables={"healthy": False},
    )
    async with asyncio.timeout(5):  # a real run would watch each gate for five minutes
        plan = await simulate(template=template, alert=ALERT, registry=make_registry(ledger), kube=_three_deployments())
    assert _path(plan) == ["roll", "roll/a", "roll/b", "roll/c", "roll/gate1", "roll/gate2"]
    assert [c.dry_run for c in ledger.contexts] == [True, True, True]
    assert plan.steps[1].params == {"name": "a"}
    assert plan.steps[4].detail == ("a real run watches this gate for 5m; now it does not hold: vars.healthy is false")
    assert plan.ends == "completes"
