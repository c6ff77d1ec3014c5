"""Undo completed reversible actions, newest first.

Undo functions restore the state their action recorded, so running one twice
(after a crash in the middle of a rollback) leaves the same result. Transient
failures of an undo are retried a few times; an undo that still fails is
reported and the rollback goes on with the others.

An undo always runs with the dry-run flag its change was made with (a real
change is undone for real even when global dry-run was turned on since), and
is marked ``undone`` in the effect journal so a replayed rollback skips it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from suture.api import RetryPolicy
from suture.engine.journal import EffectJournal
from suture.engine.retry import StepFailed, with_retry
from suture.engine.scope import Scope

UNDO_RETRY = RetryPolicy(limit=3, backoff="1s", factor=2.0, max_backoff="10s")
UNDO_TIMEOUT = 120.0


async def undo_entries(entries: list[dict[str, Any]], *, scope: Scope) -> tuple[list[str], list[str]]:
    """Undo ``entries`` in the order given; return (labels undone, error messages)."""
    registry = scope.deps.registry
    journal = scope.deps.journal
    undone: list[str] = []
    errors: list[str] = []
    for entry in entries:
        action, data, label = str(entry["action"]), dict(entry["undo"]), str(entry["label"])
        key = str(entry.get("key") or "")
        if key and await journal.get(run_id=scope.run_id, key=f"{key}:undone") is not None:
            undone.append(label)  # undone before a crash in the middle of this rollback
            continue
        ctx = dataclasses.replace(scope.action_context(), dry_run=bool(entry.get("dryRun", False)))

        async def attempt(action: str = action, data: dict[str, Any] = data, ctx: Any = ctx) -> Any:
            return await registry.undo(action, data, ctx)

        try:
            await with_retry(attempt, policy=UNDO_RETRY, timeout=UNDO_TIMEOUT, sleep=scope.deps.sleep)
        except StepFailed as exc:
            errors.append(f"{label}: {exc.message}")
            continue
        if key:
            await journal.put(run_id=scope.run_id, key=f"{key}:undone", value={"label": label})
        undone.append(label)
    return undone, errors


async def unfinished_intents(
    checkpointed: list[dict[str, Any]], *, journal: EffectJournal, run_id: str
) -> list[dict[str, Any]]:
    """Journal entries for changes whose intent was recorded but whose step never reached a checkpoint.

    These are the writes a crash interrupted: the action recorded its undo
    (``intend``) before writing, and then the process died before the step
    finished. They are the newest changes of the run, in the order they began.
    """
    known = {str(e.get("key")) for e in checkpointed if e.get("key")}
    found: list[dict[str, Any]] = []
    for name, value in await journal.entries(run_id=run_id):
        if not name.endswith(":intent"):
            continue
        key = name.removesuffix(":intent")
        if key in known:
            continue
        found.append(
            {
                "label": value.get("label", key),
                "record": value.get("record", ""),
                "action": value.get("action", ""),
                "undo": value.get("value") or {},
                "key": key,
                "dryRun": False,
            }
        )
    return found
