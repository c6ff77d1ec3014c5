"""Flow of a run: branches, guards, waits, parallel groups, fan-out, subflows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from suture.api import END, Step
from suture.engine import Engine, RecordingSink, RunRequest
from suture.flow import build_flow, first_step, only_on_branch, ownership_cycle, stops_run, successor
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


# -- the flow model's pure rules --------------------------------------------------------


def _steps(*steps: dict[str, Any]) -> list[Step]:
    return [Step.model_validate(s) for s in steps]


def _cond(name: str, then: str | None = None, else_: str | None = None, **extra: Any) -> dict[str, Any]:
    branches = {k: v for k, v in (("then", then), ("else", else_)) if v is not None}
    return {"name": name, "condition": {"check": {"expression": "true"}, **branches}, **extra}


LINEAR = _steps(rec("a"), rec("b"), rec("c"))
JUMPS = _steps(rec("a", next="c"), rec("b"), rec("c", next="end"), rec("d"))
BRANCHY = _steps(_cond("check", then="yes", else_="no"), rec("yes", next="after"), rec("no"), rec("after"))
EMPTY_BRANCH = _steps(_cond("check", then="yes", next="after"), rec("yes"), rec("after"))
EMPTY_BOTH_FALLTHROUGH = _steps(_cond("check"), rec("b"))
COND_TO_END = _steps(_cond("check", then="end", else_="b"), rec("b"))
OWNED = _steps(
    {"name": "both", "parallel": {"steps": ["x", "y"]}},
    rec("x"),
    rec("y"),
    {"name": "each", "foreach": {"items": "${{ vars.l }}", "step": "z"}},
    rec("z"),
    rec("last"),
)


@pytest.mark.parametrize(
    ("steps", "name", "branch", "expected"),
    [
        pytest.param(LINEAR, "a", None, "b", id="falls through in list order"),
        pytest.param(LINEAR, "c", None, END, id="the last step ends the run"),
        pytest.param(JUMPS, "a", None, "c", id="next jumps"),
        pytest.param(JUMPS, "c", None, END, id="next: end stops even with steps after"),
        pytest.param(JUMPS, "b", None, "c", id="a skipped-over step still falls through"),
        pytest.param(BRANCHY, "check", True, "yes", id="condition holds: then"),
        pytest.param(BRANCHY, "check", False, "no", id="condition fails: else"),
        pytest.param(BRANCHY, "check", None, "yes", id="undecided condition falls through"),
        pytest.param(BRANCHY, "yes", None, "after", id="a branch step's next"),
        pytest.param(EMPTY_BRANCH, "check", True, "yes", id="then set"),
        pytest.param(EMPTY_BRANCH, "check", False, "after", id="empty else falls through to next"),
        pytest.param(EMPTY_BOTH_FALLTHROUGH, "check", True, "b", id="no branches: list order (holds)"),
        pytest.param(EMPTY_BOTH_FALLTHROUGH, "check", False, "b", id="no branches: list order (fails)"),
        pytest.param(COND_TO_END, "check", True, END, id="then: end"),
        pytest.param(COND_TO_END, "check", False, "b", id="else to a step"),
        pytest.param(OWNED, "both", None, "each", id="owned steps are not in the order"),
        pytest.param(OWNED, "each", None, "last", id="foreach's child is skipped too"),
    ],
)
def test_successor(steps: list[Step], name: str, branch: bool | None, expected: str) -> None:
    assert successor(build_flow(steps), name, branch=branch) == expected


def test_successor_of_an_owned_step_is_refused() -> None:
    with pytest.raises(KeyError, match="not a top-level step"):
        successor(build_flow(OWNED), "x")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(LINEAR, "a", id="the first listed step"),
        pytest.param(_steps(rec("x"), {"name": "p", "foreach": {"items": "${{ [] }}", "step": "x"}}), "p", id="owned"),
        pytest.param([], END, id="no steps"),
    ],
)
def test_first_step(steps: list[Step], expected: str) -> None:
    assert first_step(build_flow(steps)) == expected


@pytest.mark.parametrize(
    ("step", "failed", "expected"),
    [
        pytest.param(rec("a"), False, False, id="success never stops"),
        pytest.param(rec("a"), True, True, id="failure aborts by default"),
        pytest.param(rec("a", onFailure="rollback"), True, True, id="rollback stops"),
        pytest.param(rec("a", onFailure="continue"), True, False, id="continue carries on"),
        pytest.param(
            {"name": "ask", "approval": {}, "onFailure": "continue"}, True, True, id="approval never continues"
        ),
        pytest.param({"name": "ask", "approval": {}, "onFailure": "continue"}, False, False, id="approved goes on"),
    ],
)
def test_stops_run(step: dict[str, Any], failed: bool, expected: bool) -> None:
    assert stops_run(Step.model_validate(step), failed=failed) is expected


@pytest.mark.parametrize(
    ("steps", "edges"),
    [
        pytest.param(LINEAR, {"a": ("b",), "b": ("c",), "c": ()}, id="linear"),
        pytest.param(JUMPS, {"a": ("c",), "b": ("c",), "c": (), "d": ()}, id="jumps and end"),
        pytest.param(BRANCHY, {"check": ("yes", "no"), "yes": ("after",), "no": ("after",), "after": ()}, id="both"),
        pytest.param(EMPTY_BRANCH, {"check": ("yes", "after"), "yes": ("after",), "after": ()}, id="empty branch"),
        pytest.param(OWNED, {"both": ("each",), "each": ("last",), "last": ()}, id="owned"),
        pytest.param(_steps(rec("a", next="ghost")), {"a": ()}, id="unknown names left out"),
    ],
)
def test_edges_follow_the_successor_rule(steps: list[Step], edges: dict[str, tuple[str, ...]]) -> None:
    assert dict(build_flow(steps).edges) == edges


def test_owners_reachability_and_cycles() -> None:
    flow = build_flow(OWNED)
    assert flow.top_level == ("both", "each", "last")
    assert dict(flow.owner_of) == {"x": "both", "y": "both", "z": "each"}
    assert build_flow(JUMPS).reachable() == {"a", "c"}
    assert build_flow(JUMPS).find_cycle() is None
    looped = build_flow(_steps(rec("a"), rec("b", next="a")))
    assert looped.find_cycle() == ["a", "b", "a"]
    circle = _steps({"name": "p", "parallel": {"steps": ["q", "x"]}}, {"name": "q", "parallel": {"steps": ["p", "x"]}})
    assert ownership_cycle([*circle, *_steps(rec("x"))]) in (["p", "q", "p"], ["q", "p", "q"])


def test_only_on_branch_leaves_out_where_branches_meet() -> None:
    crashloop = _steps(
        _cond("changed", then="ask", else_="restart"),
        {"name": "ask", "approval": {}},
        rec("rollback", next="wait"),
        rec("restart"),
        rec("wait"),
    )
    flow = build_flow(crashloop)
    assert only_on_branch(flow, "changed", branch=True) == ["ask", "rollback"]
    assert only_on_branch(flow, "changed", branch=False) == ["restart"]
    assert only_on_branch(build_flow(COND_TO_END), "check", branch=True) == []


async def test_a_rejected_approval_fails_its_parallel_group_even_with_continue(engine: Engine, ledger: Ledger) -> None:
    spec = template(
        {"name": "both", "parallel": {"steps": ["ask", "note"]}},
        {"name": "ask", "approval": {"message": "go?"}, "onFailure": "continue"},
        rec("note"),
        rec("after"),
    )
    waiting = await engine.start(request=RunRequest(run_id="pa", template=spec))
    assert waiting.phase == "WaitingApproval"
    out = await engine.approve(run_id="pa", decision="Rejected", by="bob")
    assert out.phase == "Cancelled", out.message
    assert out.steps["both"]["phase"] == "Failed"
    assert "after" not in ledger.done()
