"""The receiver's view of started runs: the SQL history's answer, kept for a second.

Why: every read of the history crosses to a database thread (SQLite through
aiosqlite) or the network (PostgreSQL), several times per query; at receipt
that cost was most of an alert's. The rules stay in :mod:`suture.runs.safety`
and read this through the same call as the history; only the answer may be
up to ``ttl`` seconds old. That is within the receipt check's contract (best
effort: the run start reads the history itself and is authoritative), and
concurrent alerts for the same template and target share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from suture.store import History, RecentStarts

Key = tuple[str, str | None, str | None, str]


class RecentStartsCache:
    """:meth:`History.recent_starts`, answered from a read at most ``ttl`` seconds old."""

    def __init__(self, history: History, *, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.history = history
        self.ttl = ttl
        self.clock = clock
        self._answers: dict[Key, tuple[float, asyncio.Future[RecentStarts]]] = {}

    async def recent_starts(
        self,
        *,
        template: str,
        namespace: str | None,
        since: datetime,
        target_uid: str | None = None,
        target_since: datetime | None = None,
        exclude_run_id: str = "",
    ) -> RecentStarts:
        """The history's answer for these arguments, read again once it is ``ttl`` old (or it failed)."""
        key = (template, namespace, target_uid, exclude_run_id)
        now = self.clock()
        held = self._answers.get(key)
        if held is not None and now - held[0] < self.ttl and not (held[1].done() and held[1].exception()):
            return await asyncio.shield(held[1])
        if len(self._answers) > 10_000:  # alerts on many targets: forget the stale ones rather than grow
            self._answers = {k: v for k, v in self._answers.items() if now - v[0] < self.ttl}
        answer: asyncio.Future[RecentStarts] = asyncio.ensure_future(
            self.history.recent_starts(
                template=template,
                namespace=namespace,
                since=since,
                target_uid=target_uid,
                target_since=target_since,
                exclude_run_id=exclude_run_id,
            )
        )
        answer.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved, even unawaited
        self._answers[key] = (now, answer)
        return await asyncio.shield(answer)
