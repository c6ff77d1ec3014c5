"""A Remediation's run rendered for people: phase, target, approval and a step timeline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from suture.table import render_table

_FMT = "%Y-%m-%dT%H:%M:%SZ"
BAR_WIDTH = 24


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, _FMT)
    except ValueError:
        return None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _bar(start: datetime | None, end: datetime | None, origin: datetime | None, span: float) -> str:
    """A bar placing the step within the run, so long and overlapping steps stand out."""
    if start is None or origin is None or span <= 0:
        return ""
    left = int((start - origin).total_seconds() / span * BAR_WIDTH)
    width = max(1, int(((end or start) - start).total_seconds() / span * BAR_WIDTH))
    left = min(left, BAR_WIDTH - 1)
    return (" " * left + "█" * min(width, BAR_WIDTH - left)).ljust(BAR_WIDTH)


def render_timeline(remediation: Mapping[str, Any], *, now: datetime | None = None) -> str:
    """The text ``suture status`` prints for one Remediation."""
    meta = remediation.get("metadata") or {}
    spec = remediation.get("spec") or {}
    status = remediation.get("status") or {}
    target = status.get("target") or spec.get("target") or {}
    lines = [
        f"remediation {meta.get('namespace')}/{meta.get('name')}",
        f"  template:  {(spec.get('templateRef') or {}).get('name', '?')}",
        f"  alert:     {(spec.get('alert') or {}).get('name', '') or '-'}",
        f"  target:    {target.get('kind', '')}/{target.get('name', '')}"
        if target
        else "  target:    (from the alert)",
        f"  phase:     {status.get('phase', 'Pending')}" + (f" ({status['message']})" if status.get("message") else ""),
    ]
    approval = status.get("approval")
    if approval:
        lines.append(
            f"  approval:  {approval.get('decision')} by {approval.get('by') or '?'} at {approval.get('at')}"
            + (f": {approval['reason']}" if approval.get("reason") else "")
        )
    if status.get("undone"):
        lines.append(f"  undone:    {', '.join(status['undone'])}")
    steps = status.get("steps") or []
    starts = [t for t in (_time(s.get("startTime")) for s in steps) if t]
    origin = _time(status.get("startTime")) or (min(starts) if starts else None)
    finish = _time(status.get("completionTime")) or now
    ends = [t for t in (_time(s.get("endTime")) for s in steps) if t]
    last = max([*ends, *starts, *([finish] if finish else [])], default=origin)
    span = (last - origin).total_seconds() if origin and last else 0.0
    rows = []
    for step in steps:
        start, end = _time(step.get("startTime")), _time(step.get("endTime"))
        seconds = (end - start).total_seconds() if start and end else None
        offset = _duration((start - origin).total_seconds()) if start and origin else ""
        rows.append(
            [
                step.get("name"),
                step.get("phase"),
                step.get("attempts", 0),
                f"+{offset}" if offset else "",
                _duration(seconds),
                _bar(start, end, origin, span),
                step.get("message", ""),
            ]
        )
    lines.append("")
    if rows:
        lines.append(
            render_table(["step", "phase", "tries", "start", "took", "timeline", "message"], rows, max_width=70)
        )
    else:
        lines.append("no step has run yet")
    return "\n".join(lines)
