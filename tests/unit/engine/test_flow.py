"""Flow of a run: branches, guards, waits, parallel groups, fan-out, subflows."""

from __future__ import annotations

from collections.abc import Callable

from suture.engine import Engine, RecordingSink, RunRequest
from tests.unit.engine.fakes import FakePromQL, FakeTemplates, Ledger, rec, template


async def test_branch_then_wait_until_promql_holds(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    promql = FakePromQL([1.0, 3.0, 7.0])
    engine = make_engine(promql=promql)
    spec = template(
        {
            "name": "severe",
            "condition": {
                "check": {"expression": 'alert.labels.severity == "critical"'},
                "then": "big",
                "else": "small",
            },
        },
        rec("big", next="settle"),
        rec("small"),
        {
            "name": "settle",
            "wait": {"until": {"promql": {"query": "up", "operator": ">", "threshold": 5}}, "interval": "10ms"},
        },
        {
            "name": "report",
            "action": {"name": "record", "params": {"name": "${{ 'after-' + steps.big.output.name }}"}},
        },
    )
    out = await engine.start(request=RunRequest(run_id="r1", template=spec, alert={"labels": {"severity": "critical"}}))
    assert out.phase == "Succeeded", out.message
    assert ledger.done() == ["big", "after-big"]
    assert out.steps["severe"]["output"] == {"result": True}
    assert "small" not in out.steps
    assert len(promql.queries) == 3
    assert "3 check(s)" in out.steps["settle"]["message"]


async def test_else_branch_and_end(engine: Engine, ledger: Ledger) -> None:
    spec = template(
        {"name": "check", "condition": {"check": {"expression": "vars.replicas > 3"}, "then": "big", "else": "end"}},
        rec("big"),
    )
    out = await engine.start(request=RunRequest(run_id="r2", template=spec, variables={"replicas": 2}))
    assert out.phase == "Succeeded"
    assert ledger.done() == []


async def test_when_guard_skips_step(engine: Engine, ledger: Ledger, sink: RecordingSink) -> None:
    spec = template(rec("first"), rec("maybe", when="vars.enabled"), rec("last"))
    out = await engine.start(request=RunRequest(run_id="r3", template=spec, variables={"enabled": False}))
    assert out.phase == "Succeeded"
    assert ledger.done() == ["first", "last"]
    assert out.steps["maybe"]["phase"] == "Skipped"
    assert sink.step_phases("r3", "maybe") == ["Skipped"]
    assert sink.run_phases("r3") == ["Running", "Succeeded"]


async def test_parallel_runs_children_concurrently(engine: Engine, ledger: Ledger) -> None:
    # a waits for b's signal and b for a's: only a concurrent run can finish.
    spec = template(
        {"name": "both", "parallel": {"steps": ["a", "b"]}},
        {"name": "a", "action": {"name": "gate", "params": {"name": "a", "release": "a-ready", "wait_for": "b-ready"}}},
        {"name": "b", "action": {"name": "gate", "params": {"name": "b", "release": "b-ready", "wait_for": "a-ready"}}},
        rec("after"),
        timeouts={"step": "5s"},
    )
    out = await engine.start(request=RunRequest(run_id="p1", template=spec))
    assert out.phase == "Succeeded", out.message
    assert sorted(ledger.done()[:2]) == ["a", "b"]
    assert ledger.done()[2] == "after"
    assert out.steps["a"]["phase"] == out.steps["b"]["phase"] == "Succeeded"


async def test_parallel_fail_fast_cancels_siblings(engine: Engine, ledger: Ledger) -> None:
    spec = template(
        {"name": "both", "parallel": {"steps": ["stuck", "broken"]}},
        {"name": "stuck", "action": {"name": "gate", "params": {"name": "stuck", "wait_for": "never"}}},
        {
            "name": "broken",
            "action": {"name": "flaky", "params": {"name": "broken", "failures": 1, "category": "invalid"}},
        },
        rec("after"),
    )
    out = await engine.start(request=RunRequest(run_id="p2", template=spec))
    assert out.phase == "Failed"
    assert "broken" in out.message
    assert out.steps["stuck"]["phase"] == "Failed"
    assert "after" not in ledger.done()


async def test_foreach_binds_items_and_collects_outputs(engine: Engine, ledger: Ledger) -> None:
    spec = template(
        {"name": "each", "foreach": {"items": "${{ vars.pods }}", "step": "fix", "as": "pod", "maxConcurrency": 2}},
        {
            "name": "fix",
            "action": {"name": "record", "params": {"name": "${{ 'fix-' + pod }}", "value": "${{ item }}"}},
        },
    )
    out = await engine.start(request=RunRequest(run_id="f1", template=spec, variables={"pods": ["a", "b", "c"]}))
    assert out.phase == "Succeeded", out.message
    assert sorted(ledger.done()) == ["fix-a", "fix-b", "fix-c"]
    assert [o["value"] for o in out.steps["each"]["output"]["items"]] == ["a", "b", "c"]
    assert out.steps["fix[1]"]["output"]["name"] == "fix-b"


async def test_foreach_refuses_too_many_items(engine: Engine, ledger: Ledger) -> None:
    spec = template(
        {"name": "each", "foreach": {"items": "${{ vars.pods }}", "step": "fix", "maxItems": 2}},
        rec("fix"),
    )
    out = await engine.start(request=RunRequest(run_id="f2", template=spec, variables={"pods": [1, 2, 3]}))
    assert out.phase == "Failed"
    assert "maxItems 2" in out.message
    assert ledger.done() == []


async def test_subflow_runs_inline_with_its_own_vars(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    sub = {
        "variables": {"who": "default"},
        "steps": [{"name": "inner", "action": {"name": "record", "params": {"name": "${{ 'inner-' + vars.who }}"}}}],
    }
    engine = make_engine(templates=FakeTemplates({"child": sub}))
    spec = template(
        rec("before"),
        {"name": "call", "subflow": {"template": "child", "variables": {"who": "${{ vars.name }}"}}},
        rec("after"),
    )
    out = await engine.start(request=RunRequest(run_id="s1", template=spec, variables={"name": "bob"}))
    assert out.phase == "Succeeded", out.message
    assert ledger.done() == ["before", "inner-bob", "after"]
    assert out.steps["call/inner"]["phase"] == "Succeeded"
    assert out.steps["call"]["output"]["steps"]["inner"]["name"] == "inner-bob"


async def test_subflow_recursion_is_bounded(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    loop = {"steps": [{"name": "again", "subflow": {"template": "loop"}}]}
    engine = make_engine(templates=FakeTemplates({"loop": loop}))
    out = await engine.start(request=RunRequest(run_id="s2", template=template(*loop["steps"])))
    assert out.phase == "Failed"
    assert "nest deeper" in out.message


async def test_dry_run_reaches_actions(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    engine = make_engine(dry_run=True)
    out = await engine.start(request=RunRequest(run_id="d1", template=template(rec("a")), namespace="team"))
    assert out.phase == "Succeeded"
    assert ledger.contexts[0].dry_run is True
    assert ledger.contexts[0].allowed_namespace == "team"


async def test_step_names_may_equal_state_keys(engine: Engine, ledger: Ledger) -> None:
    spec = template(rec("steps"), rec("approval"), rec("phase"), rec("run"))
    out = await engine.start(request=RunRequest(run_id="names", template=spec))
    assert out.phase == "Succeeded", out.message
    assert ledger.done() == ["steps", "approval", "phase", "run"]
