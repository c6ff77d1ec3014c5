"""The plan `suture simulate` prints."""

from __future__ import annotations

from suture.planview import render_plan
from suture.simulation import Plan, PlannedStep

PLAN = Plan(
    template="pod-crashlooping",
    target="Deployment/shop/web",
    target_chain=["Pod/shop/web-1", "ReplicaSet/shop/web-5d9", "Deployment/shop/web"],
    steps=[
        PlannedStep("changed", "condition", "would-run", "revision is 1 -> else: restart"),
        PlannedStep(
            "restart",
            "action",
            "would-run",
            "restart_pod: dry-run: would delete pod web-1",
            params={"name": "web-1", "namespace": "shop"},
            dry_run={"changed": True, "message": "dry-run: would delete pod web-1", "output": {}},
        ),
        PlannedStep("ask", "approval", "would-ask", "x" * 100),
    ],
    ends="completes",
)


def test_plan_renders_header_table_parameters_and_end() -> None:
    assert render_plan(PLAN, live=True).splitlines() == [
        "template: pod-crashlooping",
        "target:   Deployment/shop/web  (via Pod/shop/web-1 -> ReplicaSet/shop/web-5d9 -> Deployment/shop/web)",
        "mode:     server-side dry-run against the cluster; nothing was changed",
        "",
        "STEP     KIND       OUTCOME    DETAIL",
        "changed  condition  would-run  revision is 1 -> else: restart",
        "restart  action     would-run  restart_pod: dry-run: would delete pod web-1",
        "ask      approval   would-ask  " + "x" * 89 + "…",
        "",
        "parameters:",
        '  restart: {"name": "web-1", "namespace": "shop"}',
        "",
        "the run completes",
    ]


def test_a_static_plan_says_so_and_a_target_without_a_chain_has_no_via() -> None:
    static = Plan(template="t", target="Pod (not resolved: no cluster)", ends="stops at x (abort)")
    lines = render_plan(static, live=False).splitlines()
    assert lines[:3] == [
        "template: t",
        "target:   Pod (not resolved: no cluster)",
        "mode:     static (no cluster); nothing was changed",
    ]
    assert lines[-1] == "the run stops at x (abort)"
