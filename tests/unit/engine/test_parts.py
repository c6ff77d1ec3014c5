"""The engine's small parts: waves, backoff, comparisons, time windows, the FIFO limiter, concurrency limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from suture.actions import ActionError
from suture.api import RetryPolicy, TimeWindow
from suture.engine import Engine, FifoLimiter, RunRequest, backoff_delays, wave_sizes
from suture.engine.conditions import check_time_window, compare, field_at
from tests.conftest import wait_for
from tests.unit.engine.fakes import Ledger, template


def test_wave_sizes_are_cumulative_ceilings() -> None:
    assert wave_sizes(3, [33, 66, 100]) == [1, 2, 3]
    assert wave_sizes(10, [10, 50, 100]) == [1, 5, 10]
    assert wave_sizes(1, [10, 50, 100]) == [1]
    assert wave_sizes(7, [34, 100]) == [3, 7]


def test_backoff_is_exponential_and_capped() -> None:
    assert backoff_delays(None) == []
    policy = RetryPolicy(limit=5, backoff="1s", factor=2, max_backoff="5s")
    assert backoff_delays(policy) == [1, 2, 4, 5, 5]


def test_compare_numbers_text_and_existence() -> None:
    assert compare(3, "GreaterThan", "2")
    assert compare("3", "Equals", 3)
    assert compare(True, "Equals", "true")
    assert compare(None, "NotEquals", 1)
    assert not compare(None, "Exists", None)
    assert compare("nginx", "NotEquals", "redis")
    with pytest.raises(ActionError, match="cannot compare"):
        compare("abc", "LessThan", 3)


def test_field_at_walks_dicts_and_lists() -> None:
    obj = {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}, "status": {"readyReplicas": 2}}
    assert field_at(obj, "status.readyReplicas") == 2
    assert field_at(obj, "spec.containers[1].image") == "b"
    assert field_at(obj, "spec.containers[5].image") is None
    assert field_at(obj, "metadata.name") is None


def test_field_at_uses_the_validated_grammar_with_filters() -> None:
    # The syntax `suture validate` accepts (and examples/templates/node-not-ready.yaml uses) must work at run time.
    node = {
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]}
    }
    assert field_at(node, "status.conditions[type=Ready].status") == "True"
    assert field_at(node, "status.conditions[type=DiskPressure].status") is None


def test_time_window_with_days_and_midnight_crossing() -> None:
    monday_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
    business = TimeWindow(days=["Mon", "Tue"], start="09:00", end="17:00")
    assert check_time_window(business, now=monday_10)[0]
    assert not check_time_window(business, now=monday_10.replace(hour=18))[0]
    assert not check_time_window(business, now=datetime(2026, 11, 25, 10, 0, tzinfo=UTC))[0]
    night = TimeWindow(start="22:00", end="06:00", timezone="Europe/Berlin")
    assert check_time_window(night, now=datetime(2026, 11, 23, 23, 30, tzinfo=UTC))[0]  # 00:30 Berlin
    assert not check_time_window(night, now=monday_10)[0]


async def test_limiter_admits_in_arrival_order() -> None:
    limiter = FifoLimiter(2)
    order: list[int] = []
    release = asyncio.Event()

    async def job(n: int) -> None:
        async with limiter.slot():
            order.append(n)
            await release.wait()

    tasks = [asyncio.create_task(job(n)) for n in range(6)]
    await wait_for(_async(lambda: limiter.queued == 4), what="four queued jobs")
    assert limiter.active == 2
    assert order == [0, 1]
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]
    assert limiter.active == 0


async def test_engine_runs_at_most_n_at_once(make_engine: Callable[..., Engine], ledger: Ledger) -> None:
    engine = make_engine(max_concurrent_runs=2)
    spec = template({"name": "hold", "action": {"name": "gate", "params": {"name": "held", "wait_for": "go"}}})
    tasks = [engine.submit(request=RunRequest(run_id=f"n{i}", template=spec)) for i in range(5)]
    await wait_for(_async(lambda: engine.limiter.queued == 3), what="three queued runs")
    assert engine.limiter.active == 2
    ledger.gate("go").set()
    outcomes = await asyncio.gather(*tasks)
    assert [o.phase for o in outcomes] == ["Succeeded"] * 5
    assert engine.limiter.active == 0


async def test_start_twice_resumes_instead_of_rerunning(engine: Engine, ledger: Ledger) -> None:
    spec = template({"name": "a", "action": {"name": "record", "params": {"name": "a"}}})
    first = await engine.start(request=RunRequest(run_id="same", template=spec))
    second = await engine.start(request=RunRequest(run_id="same", template=spec))
    assert first.phase == second.phase == "Succeeded"
    assert ledger.done() == ["a"]


def _async(probe: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return probe()

    return run
