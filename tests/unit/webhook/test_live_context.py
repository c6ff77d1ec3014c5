"""The live context of an alert's target, read at receipt: what is read, how little, and never at the alert's cost."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suture import metrics
from suture.api import AlertmanagerPayload
from suture.kube import KubeRequest, KubeResponse
from suture.recommend import Context, Recommender
from suture.webhook import ByNameRanker, ContextReader, FallbackRanker, Intake, PriorityRanker, StaticCatalog
from tests.fakes.kubeapi import FakeKubeApi
from tests.unit.webhook.conftest import HOME, alert, payload, template
from tests.unit.webhook.fakes import ReceiverApi

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str = "web-5d8f7c9b4-abcde",
    *,
    reason: str = "OOMKilled",
    exit_code: int = 137,
    restarts: int = 5,
    node: str = "node-1",
    owner: str | None = "web-5d8f7c9b4",
) -> dict[str, Any]:
    terminated = {"reason": reason, "exitCode": exit_code, "finishedAt": _stamp(NOW - timedelta(minutes=1))}
    meta: dict[str, Any] = {"name": name, "namespace": "shop"}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "web:1"}]},
        "status": {
            "containerStatuses": [
                {"name": "app", "restartCount": restarts, "lastState": {"terminated": terminated}, "state": {}},
                {"name": "sidecar", "restartCount": 0, "lastState": {}, "state": {"running": {}}},
            ]
        },
    }


def replicaset(name: str = "web-5d8f7c9b4", *, age: timedelta) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": _stamp(NOW - age)},
    }


def node(name: str = "node-1", **conditions: str) -> dict[str, Any]:
    listed = [{"type": "Ready", "status": "True"}] + [{"type": k, "status": v} for k, v in conditions.items()]
    listed = list({c["type"]: c for c in listed}.values())
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": {"conditions": listed}}


def reader(api: FakeKubeApi, **kw: Any) -> ContextReader:
    return ContextReader(api.client(), clock=lambda: NOW, **kw)


def _reads(api: FakeKubeApi) -> list[str]:
    return [f"{r.method} {r.path}" for r in api.requests]


def _count(outcome: str) -> float:
    return float(metrics.LIVE_CONTEXT_READS.labels(outcome)._value.get())


async def test_a_pods_termination_restarts_rollout_and_node_are_read_in_three_gets() -> None:
    api = FakeKubeApi()
    api.add(pod(), node(MemoryPressure="True"), replicaset(age=timedelta(minutes=5)))
    context = await reader(api).read({"namespace": "shop", "pod": "web-5d8f7c9b4-abcde"})
    assert context == Context(
        termination_reason="OOMKilled",
        exit_code=137,
        restarts=5,
        recent_rollout=True,
        node_conditions=("MemoryPressure",),
    )
    assert sorted(_reads(api)) == [
        "GET /api/v1/namespaces/shop/pods/web-5d8f7c9b4-abcde",
        "GET /api/v1/nodes/node-1",
        "GET /apis/apps/v1/namespaces/shop/replicasets/web-5d8f7c9b4",
    ]


async def test_an_old_replicaset_is_no_recent_rollout_and_the_alerts_container_is_the_one_reported() -> None:
    api = FakeKubeApi()
    body = pod(reason="Error", exit_code=1)
    body["status"]["containerStatuses"][1]["lastState"] = {
        "terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": _stamp(NOW)}
    }
    api.add(body, node(Ready="False"), replicaset(age=timedelta(days=3)))
    labels = {"namespace": "shop", "pod": "web-5d8f7c9b4-abcde", "container": "app"}
    context = await reader(api).read(labels)
    assert context is not None
    assert (context.termination_reason, context.exit_code) == ("Error", 1)  # the alert's container, not the latest
    assert context.recent_rollout is False
    assert context.node_conditions == ("NotReady",)
    # Without a container label, the latest termination of any container.
    latest = await reader(api).read({"namespace": "shop", "pod": "web-5d8f7c9b4-abcde"})
    assert latest is not None
    assert (latest.termination_reason, latest.exit_code) == ("OOMKilled", 137)


def revision(name: str, *, age: timedelta) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": _stamp(NOW - age)},
        "revision": 2,
    }


def owned(kind: str, owner: str, revision_label: str | None, name: str = "db-0") -> dict[str, Any]:
    """A pod of a StatefulSet or DaemonSet (``kind``), its ``controller-revision-hash`` label set when given."""
    body = pod(name, owner=None)
    body["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": owner, "controller": True}]
    if revision_label is not None:
        body["metadata"]["labels"] = {"controller-revision-hash": revision_label}
    return body


@pytest.mark.parametrize(
    ("kind", "label", "read"),
    [
        ("StatefulSet", "db-6c5b4d4f7", "db-6c5b4d4f7"),  # the revision's whole name
        ("DaemonSet", "6c5b4d4f7", "db-6c5b4d4f7"),  # only the hash, after the DaemonSet's name
    ],
)
async def test_a_statefulset_or_daemonset_pods_rollout_is_its_controller_revision_still_three_gets(
    kind: str, label: str, read: str
) -> None:
    api = FakeKubeApi()
    api.add(owned(kind, "db", label), node(), revision(read, age=timedelta(minutes=5)))
    context = await reader(api).read({"namespace": "shop", "pod": "db-0"})
    assert context is not None
    assert context.recent_rollout is True
    assert sorted(_reads(api)) == [
        "GET /api/v1/namespaces/shop/pods/db-0",
        "GET /api/v1/nodes/node-1",
        f"GET /apis/apps/v1/namespaces/shop/controllerrevisions/{read}",
    ]
    api.add(revision(read, age=timedelta(days=2)))  # the same revision, long ago: no recent rollout
    old = await reader(api).read({"namespace": "shop", "pod": "db-0"})
    assert old is not None
    assert old.recent_rollout is False


@pytest.mark.parametrize(
    "body",
    [
        owned("StatefulSet", "db", None),  # no revision label: nothing to read
        owned("StatefulSet", "db", "../secrets/x"),  # a label that is no object name is never sent
        owned("DaemonSet", "db", "Bad_Hash"),
        owned("Job", "db", "6c5b4d4f7"),  # not a rollout
    ],
    ids=["no-label", "bad-revision", "bad-hash", "job"],
)
async def test_a_pod_without_a_readable_revision_reads_no_rollout(body: dict[str, Any]) -> None:
    api = FakeKubeApi()
    api.add(body, node())
    context = await reader(api).read({"namespace": "shop", "pod": "db-0"})
    assert context is not None
    assert context.recent_rollout is None
    assert sorted(_reads(api)) == ["GET /api/v1/namespaces/shop/pods/db-0", "GET /api/v1/nodes/node-1"]


async def test_a_deployment_alert_reads_its_rollout_and_a_node_alert_its_conditions() -> None:
    api = FakeKubeApi()
    progressing = {"type": "Progressing", "status": "True", "lastUpdateTime": _stamp(NOW - timedelta(hours=2))}
    api.add(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 2},
            "status": {"updatedReplicas": 2, "conditions": [progressing]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"replicas": 3},
            "status": {"updatedReplicas": 1, "conditions": [progressing]},
        },
        node("node-2", DiskPressure="True", PIDPressure="False"),
    )
    assert await reader(api).read({"namespace": "shop", "deployment": "web"}) == Context(recent_rollout=False)
    assert await reader(api).read({"namespace": "shop", "deployment": "api"}) == Context(recent_rollout=True)
    assert await reader(api).read({"node": "node-2"}) == Context(node_conditions=("DiskPressure",))


@pytest.mark.parametrize(
    "labels",
    [
        {"namespace": "shop", "pod": "../../secrets/x"},
        {"namespace": "shop", "pod": "web-1?labelSelector=a%3Db"},
        {"namespace": "shop", "pod": "Web_1"},
        {"namespace": "../kube-system", "pod": "web-1"},
        {"namespace": "shop", "deployment": "web/scale"},
        {"node": "node-1/proxy"},
        {"namespace": "shop", "pod": "x" * 254},
        {"alertname": "Watchdog"},
    ],
)
async def test_labels_that_are_not_object_names_are_never_sent(labels: dict[str, str]) -> None:
    api = FakeKubeApi()
    assert await reader(api).read(labels) is None
    assert api.requests == []


async def test_objects_outside_the_watched_namespaces_are_not_read() -> None:
    api = FakeKubeApi()
    api.add(pod())
    assert (
        await reader(api, namespaces=frozenset({"other"})).read({"namespace": "shop", "pod": pod()["metadata"]["name"]})
        is None
    )
    assert api.requests == []


async def test_a_failing_or_slow_api_server_means_no_context_counted_never_an_error() -> None:
    api = FakeKubeApi()
    api.add(pod())
    failed = _count("failed")
    api.fail(method="GET", path_has="/pods/", status=403)
    assert await reader(api).read({"namespace": "shop", "pod": "web-5d8f7c9b4-abcde"}) is None

    async def stall(request: KubeRequest) -> KubeResponse | None:
        await asyncio.sleep(5)
        return None

    api.before.append(stall)
    assert await reader(api, timeout=0.05).read({"namespace": "shop", "pod": "web-5d8f7c9b4-abcde"}) is None
    assert _count("failed") == failed + 2


async def test_a_missing_pod_is_no_context() -> None:
    api = FakeKubeApi()
    none = _count("none")
    assert await reader(api).read({"namespace": "shop", "pod": "gone-1"}) is None
    assert _count("none") == none + 1


# -- at receipt ------------------------------------------------------------------------------------


def _parse(body: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate_json(json.dumps(body))


def _intake(kube: ReceiverApi, catalog: StaticCatalog, recommender: Recommender, *, live: bool = True) -> Intake:
    return Intake(
        kube=kube.client,
        catalog=catalog,
        ranker=FallbackRanker(ByNameRanker(recommender), PriorityRanker()),
        home_namespace=HOME,
        live_context=ContextReader(kube.client) if live else None,
    )


async def test_the_context_ranks_the_alert_and_lands_in_the_remediations_explanation(kube: ReceiverApi) -> None:
    kube.add(pod("web-1", owner=None), node())
    recommender = Recommender.in_memory(seed=7)
    catalog = StaticCatalog([template("restart-pod", priority=50), template("raise-memory")])
    oom = Context(termination_reason="OOMKilled", exit_code=137, restarts=5)
    crashed = Context(termination_reason="Error", exit_code=1, restarts=5)
    for run in range(6):  # raise-memory fixes OOM kills, restarting fixes the rest
        seen = alert(fingerprint=f"aaaa00000000000{run}", pod=f"web-{run + 10}")
        recommender.record_outcome(seen, "raise-memory", "Effective", context=oom, run_id=f"m{run}")
        recommender.record_outcome(seen, "restart-pod", "Ineffective", context=oom, run_id=f"r{run}")
        other = alert(fingerprint=f"bbbb00000000000{run}", pod=f"web-{run + 20}")
        recommender.record_outcome(other, "raise-memory", "Ineffective", context=crashed, run_id=f"n{run}")
        recommender.record_outcome(other, "restart-pod", "Effective", context=crashed, run_id=f"s{run}")
    await _intake(kube, catalog, recommender).receive(_parse(payload(alert(fingerprint="cccc000000000001"))))
    (rem,) = kube.remediations()
    assert rem["spec"]["templateRef"]["name"] == "raise-memory"  # the context, against the priority order
    recommendation = rem["status"]["recommendation"]
    context = recommendation["context"]
    assert (context["terminationReason"], context["exitCode"], context["restarts"]) == ("OOMKilled", 137, 5)
    assert {f["feature"] for f in context["features"]} == {"reason=OOMKilled", "exit=137", "restarts=4-10"}
    assert any(r.startswith("live context: reason=OOMKilled") for r in recommendation["reasons"])


async def test_the_same_alert_without_its_context_is_ranked_on_its_words(kube: ReceiverApi) -> None:
    kube.add(pod("web-1", owner=None), node())
    recommender = Recommender.in_memory(seed=7)
    catalog = StaticCatalog([template("restart-pod", priority=50), template("raise-memory")])
    await _intake(kube, catalog, recommender, live=False).receive(_parse(payload(alert())))
    (rem,) = kube.remediations()
    assert "context" not in rem["status"]["recommendation"]
    assert not [r for r in kube.api.requests if "/pods/" in r.path]  # no reader, no read


async def test_an_unreadable_target_still_gets_its_remediation(kube: ReceiverApi) -> None:
    kube.add(pod("web-1", owner=None))
    kube.api.fail(method="GET", path_has="/pods/web-1", status=500, times=5)
    catalog = StaticCatalog([template("restart-pod")])
    summary = await _intake(kube, catalog, Recommender.in_memory(seed=7)).receive(_parse(payload(alert())))
    assert len(summary.created) == 1
    (rem,) = kube.remediations()
    assert "context" not in rem["status"]["recommendation"]
