"""The safety rules of suture.runs applied when an alert arrives: suppressed with the rule's reason, nothing created."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from suture.api import API_VERSION, AlertmanagerPayload
from suture.kube import KubeRequest, KubeResponse
from suture.runs import build_run_request
from suture.store import History, RecentStarts
from suture.webhook import Intake, PriorityRanker, StaticCatalog
from tests.fakes.history import sqlite_history, started
from tests.unit.webhook.conftest import HOME, alert, payload, template
from tests.unit.webhook.fakes import ReceiverApi
from tests.unit.webhook.test_mapping import POD_TARGET, _deployment_with_pods

TARGET = {**POD_TARGET, "namespace": "shop"}


def _parse(body: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate_json(json.dumps(body))


@pytest.fixture
async def history() -> AsyncIterator[History]:
    async with sqlite_history() as opened:
        yield opened


@pytest.fixture
def intake(kube: ReceiverApi, catalog: StaticCatalog, history: History) -> Intake:
    """The receiver with the SQL history the run start records started runs in."""
    return Intake(
        kube=kube.client,
        catalog=catalog,
        ranker=PriorityRanker(),
        home_namespace=HOME,
        api_timeout=0.5,
        history=history,
    )


def _suppressed(reason: str) -> float:
    return REGISTRY.get_sample_value("suture_alerts_suppressed_total", {"reason": reason}) or 0.0


async def test_an_alert_within_the_cooldown_on_its_target_is_suppressed_and_nothing_created(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    dep_uid = _deployment_with_pods(kube, "web-1")
    catalog.entries = [template("restart", target=TARGET, safety={"cooldown": "10m"})]
    await started(history, "before", minutes_ago=3, target_uid=dep_uid)
    before = _suppressed("Cooldown")
    summary = await intake.receive(_parse(payload(alert(pod="web-1"))))
    assert summary.created == []
    (suppressed,) = summary.suppressed
    assert suppressed["reason"] == "Cooldown"
    assert "before" in suppressed["message"]
    assert "cooldown 10m" in suppressed["message"]
    assert kube.creates == 0
    assert kube.remediations() == []
    assert _suppressed("Cooldown") == before + 1
    assert summary.as_dict()["suppressed"] == [suppressed]


async def test_a_cooldown_that_has_passed_or_another_target_does_not_suppress(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    dep_uid = _deployment_with_pods(kube, "web-1")
    catalog.entries = [template("restart", target=TARGET, safety={"cooldown": "10m"})]
    await started(history, "long-ago", minutes_ago=15, target_uid=dep_uid)
    await started(history, "elsewhere", minutes_ago=1, target_uid="another-uid")
    summary = await intake.receive(_parse(payload(alert(pod="web-1"))))
    assert summary.suppressed == []
    assert len(summary.created) == 1


async def test_an_alert_past_the_hourly_budget_is_suppressed(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    catalog.entries = [template("restart", safety={"maxRunsPerHour": 2})]
    for name, minutes_ago, other in (("one", 10, ""), ("two", 50, ""), ("hours-ago", 90, ""), ("other", 5, "other")):
        await started(history, name, minutes_ago=minutes_ago, template=other or "restart")
    summary = await intake.receive(_parse(payload(alert())))
    assert [s["reason"] for s in summary.suppressed] == ["RateLimited"]
    assert "maxRunsPerHour 2" in summary.suppressed[0]["message"]
    assert kube.creates == 0


async def test_one_run_under_the_budget_is_created(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    catalog.entries = [template("restart", safety={"maxRunsPerHour": 2})]
    await started(history, "one", minutes_ago=10)
    await started(history, "hours-ago", minutes_ago=90)
    summary = await intake.receive(_parse(payload(alert())))
    assert summary.suppressed == []
    assert len(summary.created) == 1


@pytest.mark.parametrize(
    "safety",
    [{"deniedNamespaces": ["shop"]}, {"allowedNamespaces": ["billing"]}],
    ids=["denied", "not-allowed"],
)
async def test_a_target_in_a_namespace_the_template_may_not_touch_is_suppressed(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, safety: dict[str, Any]
) -> None:
    _deployment_with_pods(kube, "web-1")
    catalog.entries = [template("restart", target=TARGET, safety=safety)]
    summary = await intake.receive(_parse(payload(alert(pod="web-1"))))
    assert [s["reason"] for s in summary.suppressed] == ["NamespaceDenied"]
    assert kube.remediations() == []


async def test_the_receiver_and_the_run_start_give_the_same_reason(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    # One rule, one place: a Remediation created by hand for the same alert is refused at its start the same way.
    from suture.errors import RunRefused

    dep_uid = _deployment_with_pods(kube, "web-1")
    spec = {"cooldown": "10m"}
    catalog.entries = [template("restart", target=TARGET, safety=spec)]
    (stored,) = kube.add(
        {
            "apiVersion": API_VERSION,
            "kind": "WorkflowTemplate",
            "metadata": {"name": "restart", "namespace": "shop"},
            "spec": {
                "match": {"alertNames": ["KubePodCrashLooping"]},
                "target": TARGET,
                "safety": spec,
                "steps": [{"name": "look", "action": {"name": "get_pod_logs"}}],
            },
        }
    )
    await started(history, "before", minutes_ago=3, target_uid=dep_uid)
    summary = await intake.receive(_parse(payload(alert(pod="web-1"))))
    (by_hand,) = kube.add(
        {
            "apiVersion": API_VERSION,
            "kind": "Remediation",
            "metadata": {"name": "by-hand", "namespace": "shop"},
            "spec": {
                "templateRef": {"name": "restart"},
                "alert": {"name": "KubePodCrashLooping", "labels": {"pod": "web-1", "namespace": "shop"}},
            },
        }
    )
    with pytest.raises(RunRefused) as refused:
        await build_run_request(by_hand, kube=kube.client, history=history)
    assert (refused.value.reason, str(refused.value.args[1])) == (
        summary.suppressed[0]["reason"],
        summary.suppressed[0]["message"],
    )
    assert stored["metadata"]["name"] == "restart"


async def test_a_dry_run_template_is_not_suppressed(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    # Dry-run is how a run acts, not whether it may: its alerts still become Remediations (which run dry).
    catalog.entries = [template("restart", safety={"dryRun": True})]
    summary = await intake.receive(_parse(payload(alert())))
    assert summary.suppressed == []
    assert len(summary.created) == 1


class BrokenHistory(History):
    """A history whose reads fail (the database is down); counts the reads."""

    def __init__(self) -> None:
        self.reads = 0

    async def recent_starts(self, **_: Any) -> RecentStarts:
        self.reads += 1
        raise OperationalError("SELECT", {}, Exception("database is locked"))


async def test_a_history_that_cannot_be_read_leaves_the_decision_to_the_run_start(
    kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    broken = BrokenHistory()
    intake = Intake(kube=kube.client, catalog=catalog, ranker=PriorityRanker(), home_namespace=HOME, history=broken)
    catalog.entries = [template("restart")]
    summary = await intake.receive(_parse(payload(alert())))
    assert broken.reads == 1
    assert len(summary.created) == 1  # the alert is kept; its run start checks the rules again


async def test_a_template_with_both_rate_rules_off_reads_no_history(
    kube: ReceiverApi, catalog: StaticCatalog, history: History
) -> None:
    broken = BrokenHistory()
    intake = Intake(kube=kube.client, catalog=catalog, ranker=PriorityRanker(), home_namespace=HOME, history=broken)
    catalog.entries = [template("restart", safety={"cooldown": "0s", "maxRunsPerHour": 0})]
    summary = await intake.receive(_parse(payload(alert())))
    assert len(summary.created) == 1
    assert broken.reads == 0


async def test_the_receiver_reads_no_remediation_list_for_the_rules(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    # The rules cost two indexed queries, not a list of every Remediation of the scope.
    catalog.entries = [template("restart")]
    lists: list[str] = []

    async def count_lists(request: KubeRequest) -> KubeResponse | None:
        if request.method == "GET" and request.path.endswith("/remediations"):
            lists.append(request.path)
        return None

    kube.api.before.append(count_lists)
    summary = await intake.receive(_parse(payload(alert())))
    assert len(summary.created) == 1
    assert lists == []
