"""The ``Valid`` condition the operator writes on a template's status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from suture.actions import Registry
from suture.api import API_VERSION, Condition, to_k8s
from suture.kube import KubeClient, write_condition
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


async def write_valid_condition(
    kube: KubeClient, body: Mapping[str, Any], *, registry: Registry | None, prometheus: bool | None = None
) -> dict[str, Any] | None:
    """Validate the template ``body`` names as it is now and write its ``Valid`` condition; the condition.

    Read fresh and written by compare-and-swap (:func:`suture.kube.write_condition`),
    so a stale ``body`` never drops a condition another writer (``Failing``) set.
    None when the template is gone.
    """
    meta = body.get("metadata") or {}
    return await write_condition(
        kube,
        str(body.get("kind", "")),
        str(meta.get("name", "")),
        meta.get("namespace") or None,
        api_version=str(body.get("apiVersion", API_VERSION)),
        build=lambda current: valid_status(current, registry=registry, prometheus=prometheus),
    )


def valid_status(
    body: Mapping[str, Any], *, registry: Registry | None, now: datetime | None = None, prometheus: bool | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``Valid`` condition of this template and the status fields that go with it."""
    from suture.validation import validate_object

    generation = (body.get("metadata") or {}).get("generation")
    condition = valid_condition(
        validate_object(dict(body), registry, prometheus=prometheus), generation=generation, now=now
    )
    return to_k8s(condition), {"observedGeneration": generation}
