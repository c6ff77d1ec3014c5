"""The in-memory API server behaves as the real one does where Suture's tests lean on it."""

from __future__ import annotations

from typing import Any

import pytest

from suture.kube import ApiError, ApiUnavailable, KubeClient, KubeRequest, KubeResponse
from tests.fakes.kubeapi import FakeKubeApi


def pod(name: str, *, labels: dict[str, str] | None = None, phase: str = "Running", node: str = "n1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "app"}]},
        "status": {"phase": phase},
    }


def deployment(name: str = "web", replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas},
    }


async def test_create_stamps_the_object_and_refuses_a_second_one(api: FakeKubeApi, kube: KubeClient) -> None:
    created = await kube.create("ConfigMap", {"metadata": {"generateName": "diag-"}, "data": {"a": "1"}}, "shop")
    meta = created["metadata"]
    assert meta["name"].startswith("diag-")
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    assert created["apiVersion"] == "v1"
    assert created["kind"] == "ConfigMap"
    with pytest.raises(ApiError) as caught:
        await kube.create("ConfigMap", {"metadata": {"name": meta["name"]}}, "shop")
    assert (caught.value.status, caught.value.reason) == (409, "AlreadyExists")
    assert [w.status for w in api.writes(kind="ConfigMap")] == [201, 409]


async def test_invalid_objects_are_422_with_causes_even_in_a_dry_run(api: FakeKubeApi, kube: KubeClient) -> None:
    api.validators["ConfigMap"] = lambda obj: [("data", "must not be empty")] if not obj.get("data") else []
    with pytest.raises(ApiError) as caught:
        await kube.create("ConfigMap", {"metadata": {"name": "Bad_Name"}}, "shop", dry_run=True)
    assert caught.value.status == 422
    assert caught.value.reason == "Invalid"
    fields = [c["field"] for c in caught.value.body["details"]["causes"]]
    assert fields == ["metadata.name", "data"]


async def test_a_dry_run_answers_but_persists_nothing(api: FakeKubeApi, kube: KubeClient) -> None:
    (stored,) = api.add(deployment())
    answer = await kube.patch("Deployment", "web", {"spec": {"replicas": 5}}, "shop", dry_run=True)
    assert answer["spec"]["replicas"] == 5
    assert api.get("Deployment", "web", "shop") == stored
    created = await kube.create("ConfigMap", {"metadata": {"name": "c"}}, "shop", dry_run=True)
    assert created["metadata"]["uid"]
    assert api.get("ConfigMap", "c", "shop") is None
    assert [w.persisted for w in api.writes()] == [False, False]


async def test_every_write_bumps_the_resource_version_and_spec_changes_the_generation(kube: KubeClient) -> None:
    first = await kube.create("Deployment", deployment(), "shop")
    second = await kube.patch("Deployment", "web", {"metadata": {"labels": {"a": "b"}}}, "shop")
    third = await kube.patch("Deployment", "web", {"spec": {"replicas": 1}}, "shop")
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, second, third)]
    assert versions == sorted(set(versions))
    assert [o["metadata"]["generation"] for o in (first, second, third)] == [1, 1, 2]


async def test_put_is_a_compare_and_swap_on_the_resource_version(kube: KubeClient) -> None:
    stored = await kube.create("ConfigMap", {"metadata": {"name": "c"}, "data": {"v": "1"}}, "shop")
    stale = {**stored, "data": {"v": "stale"}}
    await kube.replace("ConfigMap", "c", {**stored, "data": {"v": "2"}}, "shop")
    with pytest.raises(ApiError) as caught:
        await kube.replace("ConfigMap", "c", stale, "shop")
    assert caught.value.status == 409
    assert "has been modified" in caught.value.message
    assert (await kube.get("ConfigMap", "c", "shop"))["data"] == {"v": "2"}


async def test_json_patch_applies_all_or_nothing_with_test(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(deployment(replicas=3))
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 1},
    ]
    assert (await kube.patch("Deployment", "web", ops, "shop", patch_type="json"))["spec"]["replicas"] == 1
    with pytest.raises(ApiError) as caught:
        await kube.patch("Deployment", "web", ops, "shop", patch_type="json")
    assert caught.value.status == 422
    assert api.get("Deployment", "web", "shop")["spec"]["replicas"] == 1


async def test_status_and_main_resource_writes_do_not_leak_into_each_other(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(deployment())
    await kube.patch("Deployment", "web", {"spec": {"paused": True}, "status": {"replicas": 0}}, "shop")
    await kube.patch(
        "Deployment", "web", {"status": {"readyReplicas": 2}, "spec": {"replicas": 9}}, "shop", subresource="status"
    )
    stored = api.get("Deployment", "web", "shop")
    assert stored["spec"] == {"replicas": 3, "paused": True}
    assert stored["status"] == {"replicas": 3, "readyReplicas": 2}


async def test_scale_subresource_reads_and_writes_replicas(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(deployment(replicas=2))
    scale = await kube.request("GET", "/apis/apps/v1/namespaces/shop/deployments/web/scale")
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 2)
    answer = await kube.patch("Deployment", "web", {"spec": {"replicas": 4}}, "shop", subresource="scale")
    assert answer["spec"]["replicas"] == 4
    assert api.get("Deployment", "web", "shop")["spec"]["replicas"] == 4


async def test_delete_honours_the_uid_precondition_and_finalizers(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(pod("a"))
    with pytest.raises(ApiError) as caught:
        await kube.delete("Pod", "a", "shop", uid="someone-else")
    assert caught.value.conflict
    await kube.delete("Pod", "a", "shop")
    with pytest.raises(ApiError) as gone:
        await kube.delete("Pod", "a", "shop")
    assert gone.value.not_found
    held = pod("b")
    held["metadata"]["finalizers"] = ["suture.dev/x"]
    api.add(held)
    await kube.delete("Pod", "b", "shop")
    assert api.get("Pod", "b", "shop")["metadata"]["deletionTimestamp"]


async def test_an_eviction_a_budget_forbids_is_429_with_the_cause(api: FakeKubeApi, kube: KubeClient) -> None:
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": 0},
    }
    api.add(pod("web-1", labels={"app": "web"}), pod("db-1", labels={"app": "db"}), pdb)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1"}}
    with pytest.raises(ApiError) as caught:
        await kube.create("Pod", eviction, "shop", subresource_of="web-1", subresource="eviction")
    assert caught.value.status == 429
    assert caught.value.body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    await kube.create(
        "Pod", {**eviction, "metadata": {"name": "db-1"}}, "shop", subresource_of="db-1", subresource="eviction"
    )
    assert [p["metadata"]["name"] for p in api.objects("Pod")] == ["web-1"]


@pytest.mark.parametrize(
    ("labels", "fields", "expected"),
    [
        ("app=web", None, ["web-1", "web-2"]),
        ("app==web,tier!=canary", None, ["web-1"]),
        ("app in (web, db),!tier", None, ["db-1", "web-1"]),
        ("app notin (web)", None, ["db-1"]),
        ("tier", None, ["web-2"]),
        (None, "status.phase=Failed", ["web-2"]),
        (None, "spec.nodeName=n2,metadata.name!=x", ["db-1"]),
        (None, "metadata.namespace=shop,metadata.name=web-1", ["web-1"]),
    ],
)
async def test_list_filters_by_label_and_field_selectors(
    api: FakeKubeApi, kube: KubeClient, labels: str | None, fields: str | None, expected: list[str]
) -> None:
    api.add(
        pod("web-1", labels={"app": "web"}),
        pod("web-2", labels={"app": "web", "tier": "canary"}, phase="Failed"),
        pod("db-1", labels={"app": "db"}, node="n2"),
    )
    items = await kube.list("Pod", "shop", label_selector=labels, field_selector=fields)
    assert sorted(i["metadata"]["name"] for i in items) == sorted(expected)


async def test_an_unsupported_field_selector_is_a_400(kube: KubeClient) -> None:
    with pytest.raises(ApiError) as caught:
        await kube.list("Pod", "shop", field_selector="spec.hostname=x")
    assert caught.value.status == 400


async def test_a_fault_after_a_write_persists_it_and_loses_the_answer(api: FakeKubeApi, kube: KubeClient) -> None:
    api.fail(method="POST", path_has="/configmaps", error=ConnectionResetError("reset"), after=True)
    with pytest.raises(ApiUnavailable):
        await kube.create("ConfigMap", {"metadata": {"name": "c"}}, "shop")
    assert api.get("ConfigMap", "c", "shop") is not None
    assert [w.persisted for w in api.writes(kind="ConfigMap")] == [True]


async def test_a_before_hook_can_hold_a_request_or_answer_for_the_server(api: FakeKubeApi, kube: KubeClient) -> None:
    seen: list[str] = []

    async def spy(request: KubeRequest) -> KubeResponse | None:
        seen.append(f"{request.method} {request.path}")
        return (
            KubeResponse.json(503, {"reason": "ServiceUnavailable", "message": "etcd leader changed"})
            if len(seen) == 1
            else None
        )

    api.before.append(spy)
    with pytest.raises(ApiError, match="etcd leader changed"):
        await kube.list("Node")
    assert await kube.list("Node") == []
    assert seen == ["GET /api/v1/nodes", "GET /api/v1/nodes"]


async def test_self_subject_review_names_the_configured_user(api: FakeKubeApi, kube: KubeClient) -> None:
    api.user = "alice"
    review = await kube.request(
        "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body={"kind": "SelfSubjectReview"}
    )
    assert review["status"]["userInfo"]["username"] == "alice"
    with pytest.raises(ApiError) as caught:
        await kube.request("GET", "/apis/nothing.here/v1/things")
    assert caught.value.not_found
