"""``suture stats`` and ``suture history``: what the SQL history says about templates, as tables or JSON.

Read-only: the database is opened (and migrated, like the operator does) from
``--database-url`` / ``SUTURE_DATABASE_URL``, else ``suture.sqlite`` in
``--data-dir`` / ``SUTURE_DATA_DIR``.

- Per template, namespace and alert name: runs, the effective rate with its 95 % Wilson
  interval (over decided runs: Unknown is neither), the median time to resolve.
- Slow steps (seed 001's bottleneck rule): a step whose share of its runs'
  time is over 30 % on average, over at least one timed run.
- Templates that keep failing (:func:`suture.store.keeps_failing`).

Rows are per namespace the runs' Remediations were in ("-": recorded before
the history kept one), as a namespaced template's ``Failing`` condition counts
them; a ClusterWorkflowTemplate's condition counts its rows together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from suture.config import load_settings
from suture.store import History, StepTiming, keeps_failing, open_database, wilson_interval
from suture.table import render_table

SLOW_SHARE = 0.30
"""A step taking more than this share of its runs' time is a bottleneck."""


@dataclass(frozen=True)
class SlowStep:
    template: str
    step: str
    action: str
    runs: int
    share: float
    """Mean share of its run's time."""
    median_seconds: float


def database_location(args: argparse.Namespace) -> str:
    """The database the flags name, else the operator's own default (SUTURE_DATABASE_URL, then the data dir)."""
    settings = load_settings()
    if getattr(args, "database_url", None):
        return str(args.database_url)
    if getattr(args, "data_dir", None):
        # An explicit data directory means its own SQLite file, whatever the environment names.
        return replace(settings, data_dir=Path(args.data_dir), database="").database_location()
    return settings.database_location()


def slow_steps(timings: list[StepTiming], *, share: float = SLOW_SHARE) -> list[SlowStep]:
    """Steps over ``share`` of their runs' time on average, slowest share first."""
    groups: dict[tuple[str, str, str], list[StepTiming]] = {}
    for t in timings:
        if t.run_seconds > 0:
            groups.setdefault((t.template, t.step, t.action), []).append(t)
    out = []
    for (template, step, action), items in groups.items():
        mean_share = statistics.fmean(t.seconds / t.run_seconds for t in items)
        if mean_share > share:
            out.append(
                SlowStep(
                    template=template,
                    step=step,
                    action=action,
                    runs=len(items),
                    share=round(mean_share, 4),
                    median_seconds=round(statistics.median(t.seconds for t in items), 3),
                )
            )
    out.sort(key=lambda s: (-s.share, s.template, s.step))
    return out


async def gather_stats(location: str) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    async with open_database(location=location) as engine:
        history = History(engine)
        rows = await history.stats()
        timings = await history.step_timings()
        by_template = await history.outcomes_by_template()
    templates = []
    for row in rows:
        decided = row.effective + row.ineffective
        low, high = wilson_interval(row.effective, decided)
        templates.append(
            {
                "template": row.template,
                "namespace": row.namespace,
                "alertName": row.alert_name,
                "runs": row.runs,
                "effective": row.effective,
                "ineffective": row.ineffective,
                "unknown": row.unknown,
                "effectiveRate": round(row.effective / decided, 4) if decided else None,
                "interval": [round(low, 4), round(high, 4)],
                "medianResolveSeconds": row.median_resolve_seconds,
            }
        )
    failing = []
    for (namespace, template), outcomes in sorted(by_template.items(), key=lambda item: item[0][::-1]):
        why = keeps_failing(outcomes)
        if why is not None:
            failing.append({"template": template, "namespace": namespace, "reason": why, "lastOutcome": outcomes[-1]})
    return {
        "templates": templates,
        "slowSteps": [
            {
                "template": s.template,
                "step": s.step,
                "action": s.action,
                "runs": s.runs,
                "shareOfRun": s.share,
                "medianSeconds": s.median_seconds,
            }
            for s in slow_steps(timings)
        ],
        "failing": failing,
    }


def render_stats(report: Mapping[str, Any]) -> str:
    """The report as terminal tables."""
    parts = []
    if report["templates"]:
        rows = [
            [
                t["template"],
                t["namespace"] or "-",
                t["alertName"],
                t["runs"],
                "-" if t["effectiveRate"] is None else f"{100 * t['effectiveRate']:.0f}%",
                f"{100 * t['interval'][0]:.0f}-{100 * t['interval'][1]:.0f}%",
                t["unknown"],
                _duration(t["medianResolveSeconds"]),
            ]
            for t in report["templates"]
        ]
        headers = ["template", "namespace", "alert", "runs", "effective", "95% interval", "unknown", "median resolve"]
        parts.append(render_table(headers, rows))
    else:
        parts.append("no runs in the history yet")
    if report["slowSteps"]:
        rows = [
            [
                s["template"],
                s["step"],
                s["action"],
                s["runs"],
                f"{100 * s['shareOfRun']:.0f}%",
                _duration(s["medianSeconds"]),
            ]
            for s in report["slowSteps"]
        ]
        parts.append(
            f"slow steps (over {100 * SLOW_SHARE:.0f}% of their runs' time):\n"
            + render_table(["template", "step", "action", "runs", "share", "median"], rows)
        )
    if report["failing"]:
        rows = [[f["template"], f["namespace"] or "-", f["lastOutcome"], f["reason"]] for f in report["failing"]]
        parts.append(
            "templates that keep failing:\n"
            + render_table(["template", "namespace", "last outcome", "why"], rows, max_width=80)
        )
    return "\n\n".join(parts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m"


async def gather_history(location: str, *, limit: int, template: str | None) -> list[dict[str, Any]]:
    """The latest runs, JSON-ready (times as RFC 3339)."""
    async with open_database(location=location) as engine:
        rows = await History(engine).recent(limit=limit, template=template)
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in rows]


def render_history(rows: list[dict[str, Any]]) -> str:
    """Runs newest first as a table."""
    if not rows:
        return "no runs in the history yet"
    table = [
        [
            r["started_at"],
            r["alert_name"],
            r["template"],
            _version(r.get("template_generation"), r.get("template_hash")),
            r["target"],
            r["phase"],
            r["outcome"] or "-",
            _duration(r["resolved_after_seconds"]),
        ]
        for r in rows
    ]
    headers = ["started", "alert", "template", "version", "target", "phase", "outcome", "resolved after"]
    return render_table(headers, table)


def _version(generation: Any, content_hash: Any) -> str:
    """``g<generation> <hash>`` as recorded in status.templateVersion; "-" for a run recorded without one."""
    parts = ([f"g{generation}"] if generation is not None else []) + ([str(content_hash)] if content_hash else [])
    return " ".join(parts) or "-"


def cmd_stats(args: argparse.Namespace) -> int:
    """``suture stats``."""
    report = asyncio.run(gather_stats(database_location(args)))
    print(json.dumps(report, indent=2) if args.output == "json" else render_stats(report))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """``suture history``."""
    rows = asyncio.run(gather_history(database_location(args), limit=args.limit, template=args.template))
    print(json.dumps({"runs": rows}, indent=2) if args.output == "json" else render_history(rows))
    return 0


def add_commands(sub: Any) -> None:
    """Register ``stats`` and ``history`` on the CLI's subparsers."""
    for verb, text, func in (
        ("stats", "effectiveness per template and alert, slow steps, templates that keep failing", cmd_stats),
        ("history", "the latest runs and their outcomes", cmd_history),
    ):
        p = sub.add_parser(verb, help=text)
        p.add_argument("--database-url", help="PostgreSQL URL or SQLite path (default: $SUTURE_DATABASE_URL)")
        p.add_argument("--data-dir", help="data directory holding suture.sqlite (default: $SUTURE_DATA_DIR)")
        p.add_argument("--output", choices=["table", "json"], default="table")
        if verb == "history":
            p.add_argument("--limit", type=int, default=50, help="how many runs (newest first)")
            p.add_argument("--template", help="only this template's runs")
        p.set_defaults(func=func)
