"""A run's durable journal of effects: what each action call intended, and what it did.

LangGraph checkpoints a run *between* steps, but an action writes to the
cluster *inside* a step. Without more, a crash (or a SIGTERM, or a retry after
a timed-out request) between the write and the next checkpoint forgets that the
write happened: the step runs again, the action finds the object already
changed, and the undo that a rollback needs is lost.

The journal closes that window. Every action call gets a deterministic
idempotency key (run, step path, item); under that key the engine and the
action record, each durably before going on:

- ``<key>:pre/<name>`` - state the action read before writing (``recall``):
  a replay computes relative changes from the same pre-state, not from what
  the first attempt already changed;
- ``<key>:intent`` - the undo, written before the effect (``intend``): a
  rollback undoes it even when the step never reached a checkpoint;
- ``<key>:done`` - the action's result once it returned: a replay of a
  composite step (foreach item, rollout wave, parallel branch, subflow step)
  returns it without calling the action again;
- ``<key>:undone`` - the undo ran, so a replayed rollback does not repeat it.

Implementations must make :meth:`EffectJournal.put` durable before it returns.
:class:`MemoryJournal` is for tests and ``suture simulate``; the operator uses
the SQL journal of :mod:`suture.store`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any, Protocol


class EffectJournal(Protocol):
    """Durable key-value records per run, listed in the order they were first written."""

    async def get(self, *, run_id: str, key: str) -> dict[str, Any] | None:
        """The value stored under ``key`` for ``run_id``, or None."""

    async def put(self, *, run_id: str, key: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, replacing any earlier value; durable on return."""

    async def entries(self, *, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every (key, value) of ``run_id`` in the order the keys were first written."""

    async def forget(self, *, run_id: str) -> None:
        """Drop everything recorded for ``run_id`` (its run has ended for good)."""


class MemoryJournal:
    """An :class:`EffectJournal` in process memory: nothing survives the process."""

    def __init__(self) -> None:
        self._runs: dict[str, dict[str, dict[str, Any]]] = {}

    async def get(self, *, run_id: str, key: str) -> dict[str, Any] | None:
        """See :meth:`EffectJournal.get`."""
        value = self._runs.get(run_id, {}).get(key)
        return copy.deepcopy(value) if value is not None else None

    async def put(self, *, run_id: str, key: str, value: Mapping[str, Any]) -> None:
        """See :meth:`EffectJournal.put`."""
        self._runs.setdefault(run_id, {})[key] = copy.deepcopy(dict(value))

    async def entries(self, *, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        """See :meth:`EffectJournal.entries`."""
        return [(k, copy.deepcopy(v)) for k, v in self._runs.get(run_id, {}).items()]

    async def forget(self, *, run_id: str) -> None:
        """See :meth:`EffectJournal.forget`."""
        self._runs.pop(run_id, None)


def idempotency_key(run_id: str, path: str) -> str:
    """The key of one action call: the same for the same run and step path on every replay.

    ``path`` names the call within the run (``fix``, ``fix[2]``, ``roll/web-1``,
    ``sub/step``). The key is a short hash, safe in labels, annotations and headers.
    """
    digest = hashlib.sha256(f"{run_id}\x00{path}".encode()).hexdigest()
    return f"sut-{digest[:24]}"


class JournalCallMemory:
    """The journal as one action call sees it (a :class:`suture.actions.CallMemory`).

    Records go under the call's key; ``meta`` (action, label, step record) is
    stored beside each value so a rollback can undo an intent on its own.
    """

    def __init__(self, journal: EffectJournal, *, run_id: str, key: str, meta: Mapping[str, Any]) -> None:
        self._journal = journal
        self._run_id = run_id
        self._key = key
        self._meta = dict(meta)

    async def get(self, name: str) -> Any:
        """The value recorded under ``name`` for this call, or None."""
        found = await self._journal.get(run_id=self._run_id, key=f"{self._key}:{name}")
        return None if found is None else found.get("value")

    async def put(self, name: str, value: Any) -> None:
        """Record ``value`` under ``name`` for this call, durably."""
        await self._journal.put(run_id=self._run_id, key=f"{self._key}:{name}", value={**self._meta, "value": value})
