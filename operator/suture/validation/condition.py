"""The ``Valid`` condition the operator writes on a template's status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from suture.actions import Registry
from suture.api import Condition, to_k8s
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


def template_status_patch(
    body: dict[str, Any], *, registry: Registry | None, now: datetime | None = None, prometheus: bool | None = None
) -> dict[str, Any]:
    """The status fields to merge into a template after validating it (``prometheus``: whether the
    operator has one; False adds a warning to a template with a PromQL verify check).

    The existing conditions other than ``Valid`` are kept; ``Valid`` keeps its
    lastTransitionTime while its status does not change, as the Kubernetes
    condition convention asks.
    """
    from suture.validation import validate_object

    generation = (body.get("metadata") or {}).get("generation")
    condition = valid_condition(validate_object(body, registry, prometheus=prometheus), generation=generation, now=now)
    previous = [c for c in ((body.get("status") or {}).get("conditions") or []) if isinstance(c, dict)]
    old = next((c for c in previous if c.get("type") == "Valid"), None)
    if old is not None and old.get("status") == condition.status and old.get("lastTransitionTime"):
        condition.last_transition_time = old["lastTransitionTime"]
    others = [c for c in previous if c.get("type") != "Valid"]
    return {"observedGeneration": generation, "conditions": [*others, to_k8s(condition)]}
