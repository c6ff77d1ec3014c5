"""From alerts to Remediations: candidates, ranking, dedupe, one run per target, pause, resolution."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from suture.api import AlertmanagerPayload
from suture.webhook import WEBHOOK_PATH, Intake, StaticCatalog, remediation_name
from suture.webhook.pause import PAUSE_CONFIGMAP
from tests.unit.webhook.conftest import AUTH, HOME, alert, payload, template
from tests.unit.webhook.fakes import ReceiverApi

POD_TARGET = {"kind": "Pod", "name": "${{ alert.labels.pod }}", "owner": "Deployment"}


def _parse(body: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate_json(json.dumps(body))


def _deployment_with_pods(kube: ReceiverApi, *pods: str) -> str:
    """web (Deployment) -> web-rs (ReplicaSet) -> pods; returns the Deployment's uid."""
    (dep,) = kube.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}})
    (rs,) = kube.add(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-rs",
                "namespace": "shop",
                "ownerReferences": [
                    {"kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"], "controller": True}
                ],
            },
        }
    )
    for pod in pods:
        kube.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod,
                    "namespace": "shop",
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": "web-rs", "uid": rs["metadata"]["uid"], "controller": True}
                    ],
                },
            }
        )
    return str(dep["metadata"]["uid"])


async def test_the_remediation_names_the_template_alert_and_recommendation(intake: Intake, kube: ReceiverApi) -> None:
    summary = await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert summary.created == [rem["metadata"]["name"]]
    assert rem["metadata"]["namespace"] == "shop"
    assert rem["spec"]["templateRef"] == {"name": "restart-pod", "kind": "WorkflowTemplate"}
    assert rem["spec"]["alert"]["fingerprint"] == "0123456789abcdef"
    assert rem["spec"]["alert"]["startsAt"] == "2026-11-29T06:00:00.123456Z"
    assert rem["spec"]["alert"]["labels"]["pod"] == "web-1"
    assert rem["status"]["recommendation"]["template"] == "restart-pod"
    assert rem["status"]["recommendation"]["reasons"]


async def test_priority_then_name_picks_the_template_and_the_others_are_alternatives(kube: ReceiverApi) -> None:
    catalog = StaticCatalog([template("b-low"), template("c-high", priority=10), template("a-high", priority=10)])
    intake = Intake(kube=kube.client, catalog=catalog, ranker=_ranker(), home_namespace=HOME)
    await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"]["name"] == "a-high"
    alternatives = rem["status"]["recommendation"]["alternatives"]
    assert [a["template"] for a in alternatives] == ["c-high", "b-low"]
    assert alternatives[0]["score"] > alternatives[1]["score"]


def _ranker() -> Any:
    from suture.webhook import PriorityRanker

    return PriorityRanker()


async def test_only_valid_templates_of_the_alerts_namespace_are_candidates(kube: ReceiverApi) -> None:
    catalog = StaticCatalog(
        [
            template("elsewhere", namespace="other", priority=50),
            template("broken", valid=False, priority=40),
            template("stale", observed_generation=0, priority=30),
            template("other-alert", alert_names=("NodeDown",), priority=20),
            template("cluster-wide", namespace=None, priority=10),
            template("in-shop"),
        ]
    )
    intake = Intake(kube=kube.client, catalog=catalog, ranker=_ranker(), home_namespace=HOME)
    await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"] == {"name": "cluster-wide", "kind": "ClusterWorkflowTemplate"}
    assert [a["template"] for a in rem["status"]["recommendation"]["alternatives"]] == ["in-shop"]


async def test_an_alert_from_an_unwatched_namespace_lands_in_the_home_namespace(kube: ReceiverApi) -> None:
    catalog = StaticCatalog([template("cluster-wide", namespace=None)])
    intake = Intake(
        kube=kube.client,
        catalog=catalog,
        ranker=_ranker(),
        home_namespace=HOME,
        watched_namespaces=("shop",),
    )
    await intake.receive(_parse(payload(alert(namespace="kube-system"), alert(fingerprint="ab", namespace="../x"))))
    assert sorted(r["metadata"]["namespace"] for r in kube.remediations()) == [HOME, HOME]


async def test_unmatched_alerts_are_counted_not_created(intake: Intake, kube: ReceiverApi) -> None:
    summary = await intake.receive(_parse(payload(alert(alertname="Unknown"))))
    assert (summary.unmatched, kube.remediations()) == (1, [])


async def test_a_repeated_notification_finds_its_remediation(intake: Intake, kube: ReceiverApi) -> None:
    first = await intake.receive(_parse(payload(alert())))
    again = await intake.receive(_parse(payload(alert())))
    assert again.created == []
    assert again.existing == first.created
    assert len(kube.remediations()) == 1


async def test_a_new_occurrence_of_the_same_alert_gets_a_new_remediation(intake: Intake, kube: ReceiverApi) -> None:
    await intake.receive(_parse(payload(alert())))
    await intake.receive(_parse(payload(alert(starts_at="2026-11-29T07:00:00Z"))))
    assert len(kube.remediations()) == 2


async def test_concurrent_identical_posts_create_one_remediation(
    client: TestClient[Any, Any], kube: ReceiverApi
) -> None:
    async def post() -> dict[str, Any]:
        async with client.post(WEBHOOK_PATH, json=payload(alert()), headers=AUTH) as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            return answer

    answers = await asyncio.gather(*(post() for _ in range(12)))
    assert len(kube.remediations()) == 1
    assert kube.creates == 1
    assert sum(len(a["created"]) for a in answers) == 1
    assert sum(len(a["existing"]) for a in answers) == 11


async def test_concurrent_identical_posts_with_a_target_create_one_remediation(
    client: TestClient[Any, Any], kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    _deployment_with_pods(kube, "web-1")
    catalog.entries = [template("restart", target={**POD_TARGET, "namespace": "shop"})]

    async def post() -> int:
        async with client.post(WEBHOOK_PATH, json=payload(alert()), headers=AUTH) as response:
            return response.status

    assert await asyncio.gather(*(post() for _ in range(8))) == [200] * 8
    assert len(kube.remediations()) == 1


async def test_a_second_alert_on_a_busy_target_is_recorded_not_started(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    dep_uid = _deployment_with_pods(kube, "web-1", "web-2")
    catalog.entries = [template("restart", target={**POD_TARGET, "namespace": "shop"})]
    await intake.receive(_parse(payload(alert(fingerprint="aa", pod="web-1"))))
    summary = await intake.receive(_parse(payload(alert(fingerprint="bb", pod="web-2"))))
    (rem,) = kube.remediations()
    assert rem["spec"]["target"]["uid"] == dep_uid
    assert rem["spec"]["target"]["kind"] == "Deployment"
    assert [s["reason"] for s in summary.suppressed] == ["TargetBusy"]
    (related,) = rem["status"]["relatedAlerts"]
    assert (related["fingerprint"], related["labels"]["pod"]) == ("bb", "web-2")
    again = await intake.receive(_parse(payload(alert(fingerprint="bb", pod="web-2"))))
    assert len(kube.remediations()[0]["status"]["relatedAlerts"]) == 1, "a repeat is recorded once"
    assert [s["reason"] for s in again.suppressed] == ["TargetBusy"]


async def test_a_finished_remediation_does_not_block_its_target(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    _deployment_with_pods(kube, "web-1", "web-2")
    catalog.entries = [template("restart", target={**POD_TARGET, "namespace": "shop"})]
    await intake.receive(_parse(payload(alert(fingerprint="aa", pod="web-1"))))
    first = kube.remediations()[0]["metadata"]
    await kube.set_phase(first["name"], first["namespace"], "Succeeded")
    summary = await intake.receive(_parse(payload(alert(fingerprint="bb", pod="web-2"))))
    assert len(summary.created) == 1
    assert len(kube.remediations()) == 2


async def test_an_unresolvable_target_still_gets_its_remediation(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    catalog.entries = [template("restart", target={**POD_TARGET, "namespace": "shop"})]
    summary = await intake.receive(_parse(payload(alert(pod="gone"))))
    (rem,) = kube.remediations()
    assert summary.created == [rem["metadata"]["name"]]
    assert "target" not in rem["spec"]


async def test_a_global_pause_suppresses_every_new_alert(intake: Intake, kube: ReceiverApi) -> None:
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": PAUSE_CONFIGMAP, "namespace": HOME},
            "data": {"paused": "true", "reason": "maintenance"},
        }
    )
    summary = await intake.receive(_parse(payload(alert())))
    assert kube.remediations() == []
    assert summary.suppressed[0]["reason"] == "Paused"
    assert "maintenance" in summary.suppressed[0]["message"]
    await kube.client.patch("ConfigMap", PAUSE_CONFIGMAP, {"data": {"paused": "false"}}, HOME)
    assert len((await intake.receive(_parse(payload(alert())))).created) == 1


async def test_a_resolved_alert_records_its_resolution(intake: Intake, kube: ReceiverApi) -> None:
    await intake.receive(_parse(payload(alert())))
    resolved = alert(status="resolved", ends_at="2026-11-29T06:05:00Z")
    summary = await intake.receive(_parse(payload(resolved, status="resolved")))
    (rem,) = kube.remediations()
    assert summary.resolved == [rem["metadata"]["name"]]
    assert rem["status"]["alert"]["resolvedAt"] == "2026-11-29T06:05:00Z"
    unknown = await intake.receive(_parse(payload(alert(fingerprint="ff", status="resolved"), status="resolved")))
    assert unknown.resolved_unknown == 1


async def test_alerts_wait_for_the_template_index(intake: Intake, kube: ReceiverApi, catalog: StaticCatalog) -> None:
    from suture.webhook import RetryLater

    catalog.synced = False  # type: ignore[misc]
    with pytest.raises(RetryLater, match="not indexed"):
        await intake.receive(_parse(payload(alert())))
    assert kube.remediations() == []


def test_names_depend_on_fingerprint_and_start_only() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    start = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    same_instant = start.astimezone(timezone(timedelta(hours=2)))
    name = remediation_name(fingerprint="0123456789abcdef", starts_at=start)
    assert name == remediation_name(fingerprint="0123456789abcdef", starts_at=same_instant)
    assert name != remediation_name(fingerprint="0123456789abcdef", starts_at=start + timedelta(seconds=1))
    assert name != remediation_name(fingerprint="0123456789abcdee", starts_at=start)
    assert name.startswith("alert-")
    assert len(name) == 26


async def test_different_alerts_on_one_target_at_once_start_one_run(
    intake: Intake, kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    _deployment_with_pods(kube, "web-1", "web-2", "web-3")
    catalog.entries = [template("restart", target={**POD_TARGET, "namespace": "shop"})]
    summaries = await asyncio.gather(
        *(intake.receive(_parse(payload(alert(fingerprint=f"f{i}", pod=f"web-{i}")))) for i in (1, 2, 3))
    )
    assert len(kube.remediations()) == 1
    assert sorted(len(s.created) for s in summaries) == [0, 0, 1]
    assert len(kube.remediations()[0]["status"]["relatedAlerts"]) == 2


class _NameRanker:
    """A stand-in for suture.recommend.Recommender: ranks by name, reversed, and answers with names."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def rank(self, alert: Any, candidates: Any) -> list[Any]:
        from types import SimpleNamespace

        self.seen = list(candidates)
        names = sorted((c.metadata["name"] for c in candidates), reverse=True)
        return [
            SimpleNamespace(template=n, score=1 - i / 10, reasons=(f"learned {n}",), confidence=0.5)
            for i, n in enumerate([*names, "invented"])
        ]


async def test_a_ranker_answering_with_names_plugs_in_through_by_name_ranker(kube: ReceiverApi) -> None:
    from suture.webhook import ByNameRanker

    inner = _NameRanker()
    catalog = StaticCatalog([template("a-first", priority=50), template("z-last"), template("z-last", namespace=None)])
    intake = Intake(kube=kube.client, catalog=catalog, ranker=ByNameRanker(inner), home_namespace=HOME)
    await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"] == {"name": "z-last", "kind": "WorkflowTemplate"}
    recommendation = rem["status"]["recommendation"]
    assert (recommendation["score"], recommendation["confidence"]) == (1.0, 0.5)
    assert recommendation["reasons"] == ["learned z-last"]
    assert [a["template"] for a in recommendation["alternatives"]] == ["a-first"]
    assert [c.kind for c in inner.seen] == ["WorkflowTemplate", "WorkflowTemplate"]


async def test_a_lost_recommendation_write_is_completed_by_alertmanagers_retry(
    intake: Intake, kube: ReceiverApi
) -> None:
    from suture.webhook import RetryLater

    kube.api.fail(method="PATCH", path_has="/status", status=500)
    with pytest.raises(RetryLater):
        await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert "recommendation" not in (rem.get("status") or {})
    again = await intake.receive(_parse(payload(alert())))
    assert again.existing == [rem["metadata"]["name"]]
    (rem,) = kube.remediations()
    assert rem["status"]["recommendation"]["template"] == "restart-pod"


async def test_a_cluster_templates_remediation_lives_in_the_home_namespace_and_is_found_there(
    kube: ReceiverApi,
) -> None:
    catalog = StaticCatalog([template("cluster-wide", namespace=None)])
    intake = Intake(kube=kube.client, catalog=catalog, ranker=_ranker(), home_namespace=HOME)
    first = await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert rem["metadata"]["namespace"] == HOME  # suture.runs lets cluster templates run from there
    again = await intake.receive(_parse(payload(alert())))
    assert again.existing == first.created
    resolved = await intake.receive(_parse(payload(alert(status="resolved", ends_at="2026-11-29T06:05:00Z"))))
    assert resolved.resolved == first.created


async def test_a_pause_that_cannot_be_read_stores_nothing_and_asks_for_a_retry(
    intake: Intake, kube: ReceiverApi
) -> None:
    # The pause is read while the alert looks for its Remediation: its failure must still stop the create.
    from suture.webhook import RetryLater

    kube.api.fail(method="GET", path_has="/configmaps/", status=503)
    with pytest.raises(RetryLater):
        await intake.receive(_parse(payload(alert())))
    assert kube.remediations() == []
    assert len((await intake.receive(_parse(payload(alert())))).created) == 1


async def test_each_created_remediation_is_handed_on_as_stored_and_an_existing_one_is_not(
    kube: ReceiverApi, catalog: StaticCatalog
) -> None:
    handed: list[dict[str, Any]] = []
    intake = Intake(kube=kube.client, catalog=catalog, ranker=_ranker(), home_namespace=HOME, on_created=handed.append)
    await intake.receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert [h["metadata"]["uid"] for h in handed] == [rem["metadata"]["uid"]]  # the API server's answer, uid and all
    await intake.receive(_parse(payload(alert())))  # Alertmanager's repeat finds it stored: nothing more to start
    assert len(handed) == 1
