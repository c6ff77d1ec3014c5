"""Undo completed reversible actions, newest first.

Undo functions restore the state their action recorded, so running one twice
(after a crash in the middle of a rollback) leaves the same result. Transient
failures of an undo are retried a few times; an undo that still fails is
reported and the rollback goes on with the others.
"""

from __future__ import annotations

from typing import Any

from suture.api import RetryPolicy
from suture.engine.retry import StepFailed, with_retry
from suture.engine.scope import Scope

UNDO_RETRY = RetryPolicy(limit=3, backoff="1s", factor=2.0, max_backoff="10s")
UNDO_TIMEOUT = 120.0


async def undo_entries(entries: list[dict[str, Any]], *, scope: Scope) -> tuple[list[str], list[str]]:
    """Undo ``entries`` in the order given; return (labels undone, error messages)."""
    registry = scope.deps.registry
    ctx = scope.action_context()
    undone: list[str] = []
    errors: list[str] = []
    for entry in entries:
        action, data, label = str(entry["action"]), dict(entry["undo"]), str(entry["label"])

        async def attempt(action: str = action, data: dict[str, Any] = data) -> Any:
            return await registry.undo(action, data, ctx)

        try:
            await with_retry(attempt, policy=UNDO_RETRY, timeout=UNDO_TIMEOUT, sleep=scope.deps.sleep)
        except StepFailed as exc:
            errors.append(f"{label}: {exc.message}")
            continue
        undone.append(label)
    return undone, errors
