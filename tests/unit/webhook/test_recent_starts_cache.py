"""The receiver's copy of the history's answers: one read per key per second, shared, failures not kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suture.store import History, RecentStarts
from suture.webhook.starts import RecentStartsCache

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class CountingHistory(History):
    def __init__(self) -> None:
        self.reads: list[dict[str, Any]] = []
        self.fail = False
        self.started = 0

    async def recent_starts(self, **arguments: Any) -> RecentStarts:
        self.reads.append(arguments)
        await asyncio.sleep(0)
        if self.fail:
            raise OSError("database down")
        return RecentStarts(started=self.started, last_on_target=None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ask(cache: RecentStartsCache, *, target: str | None = None, template: str = "restart") -> Any:
    return cache.recent_starts(
        template=template, namespace="shop", since=NOW - timedelta(hours=1), target_uid=target, target_since=NOW
    )


async def test_concurrent_and_repeated_questions_share_one_read_until_it_is_a_second_old() -> None:
    history, clock = CountingHistory(), Clock()
    cache = RecentStartsCache(history, ttl=1.0, clock=clock)
    answers = await asyncio.gather(*(ask(cache) for _ in range(10)))
    assert {a.started for a in answers} == {0}
    assert len(history.reads) == 1
    history.started = 3
    clock.now += 0.5
    assert (await ask(cache)).started == 0
    clock.now += 0.6
    assert (await ask(cache)).started == 3
    assert len(history.reads) == 2


async def test_another_target_or_template_is_another_read() -> None:
    history = CountingHistory()
    cache = RecentStartsCache(history, clock=Clock())
    await ask(cache, target="a")
    await ask(cache, target="b")
    await ask(cache, template="other")
    assert [(r["template"], r["target_uid"]) for r in history.reads] == [
        ("restart", "a"),
        ("restart", "b"),
        ("other", None),
    ]


async def test_a_failed_read_is_raised_and_not_kept() -> None:
    history = CountingHistory()
    cache = RecentStartsCache(history, clock=Clock())
    history.fail = True
    with pytest.raises(OSError, match="database down"):
        await ask(cache)
    history.fail = False
    assert (await ask(cache)).started == 0
    assert len(history.reads) == 2
