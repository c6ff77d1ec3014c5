"""Leader election over a Lease, against the in-memory API server with a hand-driven clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from suture.kube import KubeResponse
from suture.lease import LEASE_API_VERSION, LeaseConfig, LeaseElector
from tests.fakes.kubeapi import FakeKubeApi

CONFIG = LeaseConfig(namespace="ops", name="suture-leader", duration=15, renew_deadline=10, retry_period=2)


class Clock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def elector(api: FakeKubeApi, identity: str, clock: Clock, **kwargs: object) -> LeaseElector:
    config = LeaseConfig(**{**CONFIG.__dict__, "identity": identity})
    return LeaseElector(api.client(), config, clock=clock, now=lambda: datetime(2026, 11, 29, tzinfo=UTC), **kwargs)  # type: ignore[arg-type]


def lease(api: FakeKubeApi) -> dict[str, object]:
    found = api.get("Lease", "suture-leader", "ops", api_version=LEASE_API_VERSION)
    assert found is not None
    spec: dict[str, object] = found["spec"]
    return spec


def leader_gauge() -> float | None:
    return REGISTRY.get_sample_value("suture_leader")


async def test_the_first_candidate_creates_the_lease_and_leads() -> None:
    api, clock = FakeKubeApi(), Clock()
    a = elector(api, "a", clock)
    assert leader_gauge() == 0
    assert await a.attempt()
    assert a.leading
    assert leader_gauge() == 1
    spec = lease(api)
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert spec["renewTime"] == "2026-11-29T00:00:00.000000Z"


async def test_a_held_lease_is_taken_only_after_it_went_unrenewed_for_its_duration() -> None:
    api, clock = FakeKubeApi(), Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.attempt()
    assert not await b.attempt()  # held, just observed
    clock.now += 14
    assert not await b.attempt()  # still inside the duration since b first saw this record
    clock.now += 2
    assert await b.attempt()
    assert b.leading
    spec = lease(api)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1


async def test_a_renewed_lease_is_never_taken() -> None:
    api, clock = FakeKubeApi(), Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.attempt()
    for _ in range(20):
        assert not await b.attempt()
        clock.now += 2
        assert await a.attempt()  # each renewal is a new record b has to wait out afresh
    assert lease(api)["holderIdentity"] == "a"
    assert not b.leading


async def test_a_released_lease_is_taken_at_the_next_attempt() -> None:
    api, clock = FakeKubeApi(), Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.attempt()
    assert not await b.attempt()
    await a.release()
    assert not a.leading
    assert lease(api).get("holderIdentity") is None
    assert await b.attempt()  # no waiting out the duration
    assert lease(api)["holderIdentity"] == "b"
    assert not await a.attempt()  # a released replica does not campaign again


async def test_two_candidates_racing_for_an_expired_lease_cannot_both_win() -> None:
    api, clock = FakeKubeApi(), Clock()
    a, b, c = elector(api, "a", clock), elector(api, "b", clock), elector(api, "c", clock)
    assert await a.attempt()
    assert not await b.attempt()
    assert not await c.attempt()
    clock.now += 16
    results = await asyncio.gather(b.attempt(), c.attempt())
    assert sorted(results) == [False, True]  # the PUT is a compare-and-swap on resourceVersion
    assert lease(api)["holderIdentity"] in ("b", "c")


async def test_the_holder_stops_leading_when_it_cannot_renew_before_the_deadline() -> None:
    api, clock = FakeKubeApi(), Clock()
    lost: list[bool] = []

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        await asyncio.sleep(0)

    a = elector(api, "a", clock, on_lost=lambda: lost.append(True), sleep=sleep)
    assert await a.attempt()

    def unreachable(request: object) -> KubeResponse:
        return KubeResponse(status=503, content=b'{"message": "etcd is down"}')

    api.before.append(unreachable)
    await asyncio.wait_for(a.run(), timeout=5)  # returns once the deadline passed
    assert lost == [True]
    assert not a.leading
    assert leader_gauge() == 0
    assert clock.now - 100.0 >= CONFIG.renew_deadline


async def test_run_waits_its_turn_then_leads_and_renews() -> None:
    api, clock = FakeKubeApi(), Clock()
    renewals: list[str] = []

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        renewals.append(str(lease(api).get("renewTime")))
        if len(renewals) > 12:
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    holder = elector(api, "a", clock)
    assert await holder.attempt()  # then dies: never renews
    b = elector(api, "b", clock, sleep=sleep)
    waiter = asyncio.create_task(b.wait_leading())
    with pytest.raises(asyncio.CancelledError):
        await b.run()
    assert waiter.done()
    assert lease(api)["holderIdentity"] == "b"
    writes = [w for w in api.writes(kind="Lease", persisted=True) if w.method == "PUT"]
    assert len(writes) >= 3  # the takeover, then renewals every retry period


def test_timings_must_leave_the_old_leader_time_to_stop() -> None:
    with pytest.raises(ValueError, match="renew deadline < lease duration"):
        LeaseConfig(namespace="ops", duration=10, renew_deadline=10)
