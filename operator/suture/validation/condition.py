"""The ``Valid`` condition the operator writes on a template's status."""

from __future__ import annotations

from datetime import UTC, datetime

from suture.api import Condition
from suture.validation.problems import Problem

MAX_MESSAGE = 2000  # keep status small; the full list is one `suture validate` away


def valid_condition(problems: list[Problem], *, generation: int | None, now: datetime | None = None) -> Condition:
    """``Valid=True`` when no problem is an error, else ``Valid=False`` listing the errors."""
    errors = [p for p in problems if p.severity == "error"]
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not errors:
        warnings = [p for p in problems if p.severity == "warning"]
        message = "; ".join(f"{p.path}: {p.message}" for p in warnings) if warnings else "the template is valid"
        return Condition(
            type="Valid",
            status="True",
            reason="Validated",
            message=message[:MAX_MESSAGE],
            observed_generation=generation,
            last_transition_time=stamp,
        )
    message = f"{len(errors)} error(s): " + "; ".join(f"{p.path}: {p.message}" for p in errors)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return Condition(
        type="Valid",
        status="False",
        reason="Invalid",
        message=message,
        observed_generation=generation,
        last_transition_time=stamp,
    )
