"""The operator's run metrics are exported and move: action calls by action, their errors by category,
runs active and queued, approvals waiting, leadership."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from suture import metrics
from suture.engine import Engine, RunRequest
from suture.lease import LeaseConfig, LeaseElector
from suture.runs import KubeStatusSink
from tests.conftest import wait_for
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation
from tests.unit.engine.fakes import Ledger, rec, template


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_action_calls_are_timed_by_action_and_their_errors_counted_by_category(engine: Engine) -> None:
    timed = sample("suture_action_duration_seconds_count", action="record")
    forbidden = sample("suture_action_errors_total", action="flaky", category="forbidden")
    step = {
        "name": "denied",
        "action": {"name": "flaky", "params": {"name": "x", "failures": 9, "category": "forbidden"}},
    }
    out = await engine.start(request=RunRequest(run_id="m1", template=template(rec("first"), step)))
    assert out.phase == "Failed"
    assert sample("suture_action_duration_seconds_count", action="record") == timed + 1
    assert sample("suture_action_errors_total", action="flaky", category="forbidden") == forbidden + 1
    assert sample("suture_action_duration_seconds_count", action="flaky") >= 1


async def test_runs_active_and_queued_follow_the_engines_slots(
    make_engine: Callable[..., Engine], ledger: Ledger
) -> None:
    engine = make_engine(max_concurrent_runs=1)
    metrics.watch_run_slots(engine.limiter)
    held = {"name": "held", "action": {"name": "gate", "params": {"name": "held", "wait_for": "go"}}}
    first = asyncio.create_task(engine.start(request=RunRequest(run_id="q1", template=template(held))))
    second = asyncio.create_task(engine.start(request=RunRequest(run_id="q2", template=template(rec("next")))))

    async def one_active_one_queued() -> bool:
        return sample("suture_runs_active") == 1 and sample("suture_runs_queued") == 1

    await wait_for(one_active_one_queued, timeout=10, what="one run active, one queued")
    ledger.gate("go").set()
    await asyncio.gather(first, second)
    assert (sample("suture_runs_active"), sample("suture_runs_queued")) == (0, 0)


async def test_approvals_waiting_counts_runs_paused_for_a_person() -> None:
    api = FakeKubeApi()
    (stored,) = api.add(remediation())
    sink = KubeStatusSink(api.client())
    uid = stored["metadata"]["uid"]
    sink.track(run_id=uid, namespace="shop", name="crashloop-1", template="restart", status={})
    before = sample("suture_runs_waiting_approval")
    await sink.run_phase(run_id=uid, phase="WaitingApproval", message="", undone=[])
    assert sample("suture_runs_waiting_approval") == before + 1
    await sink.run_phase(run_id=uid, phase="Running", message="", undone=[])
    assert sample("suture_runs_waiting_approval") == before


async def test_leadership_is_exported() -> None:
    config = LeaseConfig(namespace="ops", identity="me")
    elector = LeaseElector(FakeKubeApi().client(), config, now=lambda: datetime(2026, 11, 29, tzinfo=UTC))
    assert sample("suture_leader") == 0
    assert await elector.attempt()
    assert sample("suture_leader") == 1
    await elector.release()
    assert sample("suture_leader") == 0
