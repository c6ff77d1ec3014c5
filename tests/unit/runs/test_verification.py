"""Verification and learning: a succeeded run enters Verifying, and the verifier decides Effective,
Ineffective or Unknown from what the Remediation records, also after a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from prometheus_client import REGISTRY

from suture.actions import Registry
from suture.api import WorkflowTemplate
from suture.engine import Engine
from suture.kube import KubeClient
from suture.recommend import Recommender
from suture.runs import KubeStatusSink, RemediationService
from suture.store import History, RunRecord, open_database
from suture.verify import AlertmanagerUnavailable, RecommenderLearner, Verifier, matchers, quote_matcher_value
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import remediation, template
from tests.unit.engine.fakes import Ledger

API = "suture.dev/v1alpha1"
FINGERPRINT = "6f1a3b2c9d8e7f60"
LABELS = {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "web-5d8f7c9b4-abcde"}


@dataclass
class RecordingLearner:
    """Remembers every outcome it is told."""

    lessons: list[tuple[str, str, str]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    async def record(
        self,
        *,
        alert: Mapping[str, Any],
        template: str,
        outcome: str,
        run_id: str,
        remediation: Mapping[str, Any] | None = None,
        phase: str | None = None,
        template_version: str = "",
    ) -> None:
        self.lessons.append((template, outcome, run_id))
        self.versions.append(template_version)


@dataclass
class FakeAlertmanager:
    """Lists ``firing`` as active; ``broken`` makes it fail like an unreachable Alertmanager."""

    firing: set[str] = field(default_factory=set)
    broken: bool = False
    asked: list[dict[str, str]] = field(default_factory=list)

    async def active_fingerprints(self, labels: Mapping[str, str]) -> set[str]:
        self.asked.append(dict(labels))
        if self.broken:
            raise AlertmanagerUnavailable("connection refused")
        return set(self.firing)


class Clock:
    """A settable clock for the verifier, starting at the real now (the sink writes real deadlines)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def learner() -> RecordingLearner:
    return RecordingLearner()


@pytest.fixture
async def make_service(
    kube: KubeClient, registry: Registry, history: History, learner: RecordingLearner
) -> AsyncIterator[Callable[[], RemediationService]]:
    """Services sharing one checkpointer, as an operator and its restarted self do."""
    saver = InMemorySaver()
    engines: list[Engine] = []

    def build() -> RemediationService:
        sink = KubeStatusSink(kube)
        engine = Engine(registry=registry, kube=kube, checkpointer=saver, sink=sink)
        engines.append(engine)
        return RemediationService(
            engine=engine, kube=kube, sink=sink, registry=registry, history=history, learner=learner, verify=True
        )

    yield build
    for engine in engines:
        await engine.aclose()


def alert_remediation(*, fingerprint: str = FINGERPRINT, template_name: str = "restart") -> dict[str, Any]:
    alert = {"name": "KubePodCrashLooping", "labels": dict(LABELS), "fingerprint": fingerprint}
    if not fingerprint:
        del alert["fingerprint"]
    return remediation(template=template_name, alert=alert)


def stored(api: FakeKubeApi) -> dict[str, Any]:
    return dict(api.get("Remediation", "crashloop-1", "shop"))


async def run_to_the_end(api: FakeKubeApi, service: RemediationService, body: dict[str, Any]) -> dict[str, Any]:
    await service.start(body)
    task = service.tasks.get(body["metadata"]["uid"])
    if task is not None:
        await task
    return stored(api)


async def resolve(kube: KubeClient, at: str) -> None:
    """What the receiver writes when Alertmanager's resolved notification arrives."""
    patch = {"status": {"alert": {"resolvedAt": at}}}
    await kube.patch("Remediation", "crashloop-1", patch, "shop", subresource="status", api_version=API)


def with_window(window: str) -> dict[str, Any]:
    spec = template()
    spec["spec"]["verify"] = {"alertResolvedWithin": window}
    return spec


async def test_a_succeeded_run_enters_verifying_with_its_deadline_in_the_status(
    api: FakeKubeApi, make_service: Callable[[], RemediationService]
) -> None:
    api.add(with_window("2m"))
    (rem,) = api.add(alert_remediation())
    before = datetime.now(UTC)
    status = (await run_to_the_end(api, make_service(), rem))["status"]
    assert status["phase"] == "Verifying"
    assert status["verification"]["outcome"] == "Pending"
    deadline = datetime.fromisoformat(status["verification"]["deadline"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=118) <= deadline <= datetime.now(UTC) + timedelta(seconds=121)
    assert status["completionTime"]


async def test_resolved_within_the_window_is_effective_with_its_time_to_resolve(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], learner: RecordingLearner
) -> None:
    api.add(with_window("5m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    clock = Clock()
    verifier = Verifier(kube=kube, learner=learner, clock=clock)
    assert await verifier.check(stored(api)) is None  # nothing yet, deadline ahead: keep waiting
    assert stored(api)["status"]["phase"] == "Verifying"
    clock.advance(60)
    resolved = (clock.now - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await resolve(kube, resolved)
    assert await verifier.check(stored(api)) == "Effective"
    status = stored(api)["status"]
    assert status["phase"] == "Succeeded"
    assert status["verification"]["outcome"] == "Effective"
    assert status["verification"]["resolvedAt"] == resolved
    assert 0 <= status["verification"]["timeToResolveSeconds"] <= 60
    assert learner.lessons == [("restart", "Effective", rem["metadata"]["uid"])]
    # The version that ran reaches the learner, by the same rule that wrote it in the status.
    assert learner.versions == [WorkflowTemplate.model_validate(with_window("5m")).content_hash()]
    assert learner.versions == [status["templateVersion"]["hash"]]
    assert "VerificationEffective" in {e["reason"] for e in api.objects("Event")}
    assert await verifier.check(stored(api)) is None  # decided once: Succeeded is left alone


async def test_still_firing_when_the_window_passes_is_ineffective(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], learner: RecordingLearner
) -> None:
    api.add(with_window("1m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    clock = Clock()
    alertmanager = FakeAlertmanager(firing={FINGERPRINT, "someone-else"})
    verifier = Verifier(kube=kube, learner=learner, alerts=alertmanager, clock=clock)
    assert await verifier.check(stored(api)) is None  # still firing, but the window is open
    clock.advance(61)
    assert await verifier.check(stored(api)) == "Ineffective"
    status = stored(api)["status"]
    assert (status["phase"], status["verification"]["outcome"]) == ("Succeeded", "Ineffective")
    assert learner.lessons == [("restart", "Ineffective", rem["metadata"]["uid"])]
    assert alertmanager.asked[0] == LABELS


async def test_alertmanager_no_longer_listing_the_alert_is_effective_before_the_deadline(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], learner: RecordingLearner
) -> None:
    api.add(with_window("10m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    alertmanager = FakeAlertmanager(firing={FINGERPRINT})
    verifier = Verifier(kube=kube, learner=learner, alerts=alertmanager, clock=Clock())
    assert await verifier.check(stored(api)) is None
    alertmanager.firing.clear()
    assert await verifier.check(stored(api)) == "Effective"
    assert stored(api)["status"]["verification"]["resolvedAt"]


async def test_a_remediation_made_by_hand_is_unknown_at_once_and_teaches_nothing_wrong(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService], learner: RecordingLearner
) -> None:
    api.add(with_window("10m"))
    (rem,) = api.add(alert_remediation(fingerprint=""))
    await run_to_the_end(api, make_service(), rem)
    verifier = Verifier(kube=kube, learner=learner, alerts=FakeAlertmanager(), clock=Clock())
    assert await verifier.check(stored(api)) == "Unknown"
    assert stored(api)["status"]["verification"]["outcome"] == "Unknown"
    assert [outcome for _, outcome, _ in learner.lessons] == ["Unknown"]


@pytest.mark.parametrize("alertmanager", [None, FakeAlertmanager(broken=True)], ids=["none", "unreachable"])
async def test_no_signal_by_the_deadline_is_unknown(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    learner: RecordingLearner,
    alertmanager: FakeAlertmanager | None,
) -> None:
    api.add(with_window("1m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    clock = Clock()
    verifier = Verifier(kube=kube, learner=learner, alerts=alertmanager, clock=clock)
    assert await verifier.check(stored(api)) is None
    clock.advance(61)
    assert await verifier.check(stored(api)) == "Unknown"
    assert stored(api)["status"]["phase"] == "Succeeded"


async def test_a_restart_while_verifying_neither_reruns_the_steps_nor_loses_the_outcome(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    learner: RecordingLearner,
    ledger: Ledger,
) -> None:
    api.add(with_window("1m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    deadline = stored(api)["status"]["verification"]["deadline"]
    # The operator restarts: a new service and a new verifier, knowing only what the API stores.
    restarted = make_service()
    await restarted.start(stored(api))
    assert not restarted.tasks
    assert ledger.done() == ["one"]
    assert stored(api)["status"]["verification"]["deadline"] == deadline  # the window did not start over
    clock = Clock()
    clock.advance(61)
    verifier = Verifier(kube=kube, learner=learner, alerts=FakeAlertmanager(firing={FINGERPRINT}), clock=clock)
    assert await verifier.check(stored(api)) == "Ineffective"


async def test_failed_runs_teach_ineffective_and_dry_runs_are_not_verified(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], learner: RecordingLearner
) -> None:
    failing = [{"name": "boom", "action": {"name": "flaky", "params": {"name": "boom", "failures": 9}}}]
    api.add(template("breaks", steps=failing))
    (rem,) = api.add(alert_remediation(template_name="breaks"))
    assert (await run_to_the_end(api, make_service(), rem))["status"]["phase"] == "Failed"
    assert learner.lessons == [("breaks", "Ineffective", rem["metadata"]["uid"])]
    assert learner.versions == [WorkflowTemplate.model_validate(template("breaks", steps=failing)).content_hash()]

    api.add(template("dry", safety={"dryRun": True}))
    (dry,) = api.add(remediation("dry-1", template="dry"))
    service = make_service()
    await service.start(dry)
    await service.tasks[dry["metadata"]["uid"]]
    status = api.get("Remediation", "dry-1", "shop")["status"]
    assert status["phase"] == "Succeeded"  # a dry run changed nothing: there is nothing to verify
    assert "verification" not in status


def test_matcher_values_are_quoted_and_invalid_label_names_left_out() -> None:
    assert quote_matcher_value('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert matchers({"alertname": "X", "bad-name": "y", "pod": '"}, evil="1'}) == [
        'alertname="X"',
        'pod="\\"}, evil=\\"1"',
    ]


async def test_an_effective_outcome_makes_the_next_similar_alert_rank_that_template_higher(
    api: FakeKubeApi, kube: KubeClient, make_service: Callable[[], RemediationService]
) -> None:
    recommender = Recommender.in_memory(seed=7)
    alert = {"labels": dict(LABELS), "annotations": {}, "fingerprint": FINGERPRINT, "status": "firing"}
    before = {r.template: r.score for r in recommender.rank(alert, ["aaa-first", "restart"])}
    api.add(with_window("5m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    await resolve(kube, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    verifier = Verifier(kube=kube, learner=RecommenderLearner(recommender), clock=Clock())
    assert await verifier.check(stored(api)) == "Effective"
    similar = {**alert, "fingerprint": "another", "labels": {**LABELS, "pod": "web-5d8f7c9b4-zzzzz"}}
    after = recommender.rank(similar, ["aaa-first", "restart"])
    assert after[0].template == "restart"
    assert {r.template: r.score for r in after}["restart"] > before["restart"]
    # Ranked as a template object, the outcome is known to be of its current version.
    (ranked,) = recommender.rank(similar, [WorkflowTemplate.model_validate(with_window("5m"))])
    assert any(r.startswith("versions: 1 of these ran the current version") for r in ranked.reasons)


async def test_the_outcome_is_kept_in_the_sql_history(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    learner: RecordingLearner,
    tmp_path: Path,
) -> None:
    api.add(with_window("5m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    await resolve(kube, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    async with open_database(location=str(tmp_path / "suture.sqlite")) as database:
        history = History(database)
        verifier = Verifier(kube=kube, learner=learner, clock=Clock(), history=history)
        assert await verifier.check(stored(api)) == "Effective"
        kept = await history.run(rem["metadata"]["uid"])
        assert kept is not None
        assert (kept["template"], kept["fingerprint"], kept["alert_name"]) == (
            "restart",
            FINGERPRINT,
            "KubePodCrashLooping",
        )
        assert kept["outcome"]["outcome"] == "Effective"
        (stats,) = await history.stats()
        assert (stats.runs, stats.effective) == (1, 1)
    shown = api.get("WorkflowTemplate", "restart", "shop")["status"]["stats"]
    assert (shown["runs"], shown["effectiveness"], shown["lastOutcome"]) == (1, 1.0, "Effective")


async def test_the_history_has_the_outcome_before_the_status_says_succeeded(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    learner: RecordingLearner,
    tmp_path: Path,
) -> None:
    """The status write fails (as a crash right before it would): the history already holds the outcome,
    and deciding again keeps one run, not two."""
    api.add(with_window("5m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    await resolve(kube, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    async with open_database(location=str(tmp_path / "suture.sqlite")) as database:
        history = History(database)
        verifier = Verifier(kube=kube, learner=learner, clock=Clock(), history=history)
        api.fail(method="PATCH", path_has="remediations/crashloop-1/status", status=500)
        with pytest.raises(Exception, match="injected 500"):
            await verifier.check(stored(api))
        assert stored(api)["status"]["phase"] == "Verifying"
        kept = await history.run(rem["metadata"]["uid"])
        assert kept is not None
        assert kept["outcome"]["outcome"] == "Effective"
        assert await verifier.check(stored(api)) == "Effective"
        assert stored(api)["status"]["phase"] == "Succeeded"
        (stats,) = await history.stats()
        assert (stats.runs, stats.effective) == (1, 1)


async def test_a_template_that_keeps_failing_sets_its_metric(
    api: FakeKubeApi,
    kube: KubeClient,
    make_service: Callable[[], RemediationService],
    learner: RecordingLearner,
    tmp_path: Path,
) -> None:
    api.add(with_window("5m"))
    (rem,) = api.add(alert_remediation())
    await run_to_the_end(api, make_service(), rem)
    await resolve(kube, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    async with open_database(location=str(tmp_path / "suture.sqlite")) as database:
        history = History(database)
        past = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(8):  # eight earlier Ineffective runs: one Effective more leaves the rate surely below a half
            await history.record_run(
                RunRecord(
                    run_id=f"old-{i}",
                    alert_name="A",
                    fingerprint="f",
                    template="restart",
                    phase="Failed",
                    started_at=past,
                    namespace="shop",
                )
            )
            await history.record_outcome(run_id=f"old-{i}", outcome="Ineffective", decided_at=past)
        verifier = Verifier(kube=kube, learner=learner, clock=Clock(), history=history)
        assert await verifier.check(stored(api)) == "Effective"
    assert REGISTRY.get_sample_value("suture_template_failing", {"namespace": "shop", "template": "restart"}) == 1.0


async def test_a_rejected_approval_teaches_nothing_even_when_the_run_rolls_back(
    api: FakeKubeApi, make_service: Callable[[], RemediationService], learner: RecordingLearner
) -> None:
    steps = [
        {"name": "one", "action": {"name": "record", "params": {"name": "one"}}},
        {"name": "ask", "approval": {"message": "go ahead?"}, "onFailure": "rollback"},
    ]
    api.add(template(steps=steps))
    (rem,) = api.add(
        remediation(alert={"name": "X", "fingerprint": FINGERPRINT}, approval={"decision": "Rejected", "step": "ask"})
    )
    assert (await run_to_the_end(api, make_service(), rem))["status"]["phase"] == "RolledBack"
    assert learner.lessons == []
