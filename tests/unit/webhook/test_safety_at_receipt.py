"""The safety rules of suture.runs applied when an alert arrives: suppressed with the rule's reason, nothing created."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from suture.api import API_VERSION, AlertmanagerPayload
from suture.kube import KubeRequest, KubeResponse
from suture.runs import build_run_request
from suture.webhook import Intake, RetryLater, StaticCatalog
from tests.unit.webhook.conftest import alert, payload, template
from tests.unit.webhook.fakes import ReceiverApi
from tests.unit.webhook.test_mapping import POD_TARGET, _deployment_with_pods

TARGET = {**POD_TARGET, "namespace": "shop"}


def _parse(body: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate_json(json.dumps(body))


def _started(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def earlier_run(
    name: str, *, minutes_ago: int, target_uid: str | None = None, template: str = "restart"
) -> dict[str, Any]:
    """A Remediation of ``template`` that started ``minutes_ago`` and finished (so it does not make the target busy)."""
    status: dict[str, Any] = {"phase": "Succeeded", "startTime": _started(minutes_ago)}
    if target_uid:
        status["target"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": target_uid}
    return {
        "apiVersion": API_VERSION,
        "kind": "Remediation",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"templateRef": {"name": template}, "alert": {"name": "KubePodCrashLooping"}},
        "status": status,
    }


def _suppressed(reason: str) -> float:
    return REGISTRY.get_sample_value("suture_alerts_suppressed_total", {"reason": reason}) or 0.0


async def test_an_alert_within_the_cooldown_on_its_target_is_suppressed_and_nothing_created(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    dep_uid = _deployment_with_pods(kube, "web-1")
    catalog.entries = [template("restart", target=TARGET, safety={"cooldown": "10m"})]
    kube.add(earlier_run("before", minutes_ago=3, target_uid=dep_uid))
    before = _suppressed("Cooldown")
    summary = await intake.receive(_parse(payload(alert(pod="web-1"))))
    assert summary.created == []
    (suppressed,) = summary.suppressed
    assert suppressed["reason"] == "Cooldown"
    assert "before" in suppressed["message"]
    assert "cooldown 10m" in suppressed["message"]
    assert kube.creates == 0
    assert [r["metadata"]["name"] for r in kube.remediations()] == ["before"]
    assert _suppressed("Cooldown") == before + 1
    assert summary.as_dict()["suppressed"] == [suppressed]


async def test_a_cooldown_that_has_passed_or_another_target_does_not_suppress(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    dep_uid = _deployment_with_pods(kube, "web-1")
    catalog.entries = [template("restart", target=TARGET, safety={"cooldown": "10m"})]
    kube.add(earlier_run("long-ago", minutes_ago=15, target_uid=dep_uid))
    kube.add(earlier_run("elsewhere", minutes_ago=1, target_uid="another-uid"))
    summary = await intake.receive(_parse(payload(alert(pod="web-1"))))
    assert summary.suppressed == []
    assert len(summary.created) == 1


async def test_an_alert_past_the_hourly_budget_is_suppressed(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    catalog.entries = [template("restart", safety={"maxRunsPerHour": 2})]
    kube.add(earlier_run("one", minutes_ago=10), earlier_run("two", minutes_ago=50))
    kube.add(earlier_run("hours-ago", minutes_ago=90), earlier_run("other", minutes_ago=5, template="other"))
    summary = await intake.receive(_parse(payload(alert())))
    assert [s["reason"] for s in summary.suppressed] == ["RateLimited"]
    assert "maxRunsPerHour 2" in summary.suppressed[0]["message"]
    assert kube.creates == 0


async def test_one_run_under_the_budget_is_created(intake: Intake, kube: ReceiverApi, catalog: StaticCatalog) -> None:
    catalog.entries = [template("restart", safety={"maxRunsPerHour": 2})]
    kube.add(earlier_run("one", minutes_ago=10), earlier_run("hours-ago", minutes_ago=90))
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
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
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
    kube.add(earlier_run("before", minutes_ago=3, target_uid=dep_uid))
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
        await build_run_request(by_hand, kube=kube.client)
    assert (refused.value.reason, str(refused.value.args[1])) == (
        summary.suppressed[0]["reason"],
        summary.suppressed[0]["message"],
    )
    assert stored["metadata"]["name"] == "restart"


async def test_a_dry_run_template_is_not_suppressed(intake: Intake, kube: ReceiverApi, catalog: StaticCatalog) -> None:
    # Dry-run is how a run acts, not whether it may: its alerts still become Remediations (which run dry).
    catalog.entries = [template("restart", safety={"dryRun": True})]
    summary = await intake.receive(_parse(payload(alert())))
    assert summary.suppressed == []
    assert len(summary.created) == 1


async def test_an_unreachable_api_server_during_the_rate_check_stores_nothing_and_asks_for_a_retry(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    catalog.entries = [template("restart")]
    lists: list[str] = []

    async def refuse_lists(request: KubeRequest) -> KubeResponse | None:
        if request.method == "GET" and request.path.endswith("/remediations"):  # the list, not a get by name
            lists.append(request.path)
            raise ConnectionRefusedError("connection refused")
        return None

    kube.api.before.append(refuse_lists)
    with pytest.raises(RetryLater):
        await intake.receive(_parse(payload(alert())))
    assert lists
    assert kube.remediations() == []


async def test_a_template_with_both_rate_rules_off_costs_no_listing(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    catalog.entries = [template("restart", safety={"cooldown": "0s", "maxRunsPerHour": 0})]
    kube.add(*(earlier_run(f"r{i}", minutes_ago=1) for i in range(3)))
    lists: list[str] = []

    async def count_lists(request: KubeRequest) -> KubeResponse | None:
        if request.method == "GET" and request.path.endswith("/remediations"):
            lists.append(request.path)
        return None

    kube.api.before.append(count_lists)
    summary = await intake.receive(_parse(payload(alert())))
    assert len(summary.created) == 1
    assert lists == []
