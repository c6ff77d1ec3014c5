"""A simulated run's plan rendered for people: what ``suture simulate`` prints."""

from __future__ import annotations

import json

from suture.simulation import Plan
from suture.table import render_table

DETAIL_WIDTH = 90


def render_plan(plan: Plan, *, live: bool) -> str:
    """The text of ``plan``: header, one row per step, the resolved parameters, how the run ends.

    ``live`` says whether the plan was made against a cluster (server-side
    dry-run) or without one (static).
    """
    via = f"  (via {' -> '.join(plan.target_chain)})" if len(plan.target_chain) > 1 else ""
    mode = "server-side dry-run against the cluster" if live else "static (no cluster)"
    lines = [
        f"template: {plan.template}",
        f"target:   {plan.target}{via}",
        f"mode:     {mode}; nothing was changed",
        "",
        render_table(
            ["step", "kind", "outcome", "detail"],
            [[s.path, s.kind, s.outcome, s.detail] for s in plan.steps],
            max_width=DETAIL_WIDTH,
        ),
        "",
        "parameters:",
        *(f"  {s.path}: {json.dumps(s.params, default=str)}" for s in plan.steps if s.params is not None),
        "",
        f"the run {plan.ends}",
    ]
    return "\n".join(lines)
