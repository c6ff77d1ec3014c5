"""Resolving a template's target from an alert, through the in-memory API server."""

from __future__ import annotations

from typing import Any

import pytest

from suture.api import TargetSpec
from suture.kube import KubeClient
from suture.targets import TargetError, resolve_target
from tests.fakes.kubeapi import FakeKubeApi
from tests.fakes.objects import owned_by, pod, replicaset, seed_pod_chain

ALERT = {"labels": {"namespace": "shop", "pod": "web-5d8f7c9b4-abcde"}}
POD_TARGET = {"kind": "Pod", "namespace": "${{ alert.labels.namespace }}", "name": "${{ alert.labels.pod }}"}


@pytest.fixture
def api() -> FakeKubeApi:
    return FakeKubeApi()


@pytest.fixture
def kube(api: FakeKubeApi) -> KubeClient:
    return api.client()


def target(**fields: Any) -> TargetSpec:
    return TargetSpec.model_validate({**POD_TARGET, **fields})


async def test_a_pod_alert_resolves_to_the_pods_deployment_through_its_replicaset(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    dep, _rs, _p = seed_pod_chain(api)
    resolved = await resolve_target(target(owner="Deployment"), alert=ALERT, kube=kube)
    assert resolved.ref.kind == "Deployment"
    assert resolved.ref.uid == dep["metadata"]["uid"]
    assert resolved.chain == (
        "Pod/shop/web-5d8f7c9b4-abcde",
        "ReplicaSet/shop/web-5d8f7c9b4",
        "Deployment/shop/web",
    )
    assert api.writes() == []  # resolving only reads


async def test_a_pod_alert_resolves_to_the_node_it_runs_on(api: FakeKubeApi, kube: KubeClient) -> None:
    seed_pod_chain(api)
    resolved = await resolve_target(target(owner="Node"), alert=ALERT, kube=kube)
    assert (resolved.ref.kind, resolved.ref.name, resolved.ref.namespace) == ("Node", "n1", None)


async def test_the_pod_itself_without_an_owner(api: FakeKubeApi, kube: KubeClient) -> None:
    seed_pod_chain(api)
    resolved = await resolve_target(target(), alert=ALERT, kube=kube)
    assert resolved.object["kind"] == "Pod"
    assert resolved.chain == ("Pod/shop/web-5d8f7c9b4-abcde",)


async def test_an_unscheduled_pod_has_no_node(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add(pod(node=None))
    with pytest.raises(TargetError, match="not a scheduled Pod"):
        await resolve_target(target(owner="Node"), alert=ALERT, kube=kube)


async def test_a_missing_owner_kind_names_the_chain_walked(api: FakeKubeApi, kube: KubeClient) -> None:
    (rs,) = api.add(replicaset())
    api.add(owned_by(pod(), rs))
    with pytest.raises(TargetError, match=r"no Deployment owns Pod/shop/web-5d8f7c9b4-abcde \(owner chain: Pod/"):
        await resolve_target(target(owner="Deployment"), alert=ALERT, kube=kube)


async def test_an_owner_replaced_under_the_same_name_is_refused(api: FakeKubeApi, kube: KubeClient) -> None:
    _dep, rs, _ = seed_pod_chain(api)
    await kube.delete("ReplicaSet", rs["metadata"]["name"], "shop")
    api.add(replicaset())  # same name, new uid
    with pytest.raises(TargetError, match="was replaced while resolving"):
        await resolve_target(target(owner="Deployment"), alert=ALERT, kube=kube)


async def test_a_missing_object_is_named_with_its_namespace(kube: KubeClient) -> None:
    with pytest.raises(TargetError, match="Pod 'web-5d8f7c9b4-abcde' in namespace 'shop' not found"):
        await resolve_target(target(), alert=ALERT, kube=kube)


async def test_a_namespaced_template_cannot_reach_another_namespace(api: FakeKubeApi, kube: KubeClient) -> None:
    seed_pod_chain(api)
    with pytest.raises(TargetError, match="outside the template's namespace 'other'"):
        await resolve_target(target(), alert=ALERT, kube=kube, confine_to="other")
    with pytest.raises(TargetError, match="cannot act on Node objects"):
        await resolve_target(target(owner="Node"), alert=ALERT, kube=kube, confine_to="shop")
    assert api.requests == []  # refused before anything is read


async def test_a_missing_namespace_falls_back_to_the_templates_own(api: FakeKubeApi, kube: KubeClient) -> None:
    seed_pod_chain(api)
    resolved = await resolve_target(target(namespace=None), alert=ALERT, kube=kube, confine_to="shop")
    assert resolved.ref.namespace == "shop"
    with pytest.raises(TargetError, match="a Pod needs a namespace"):
        await resolve_target(target(namespace=None), alert=ALERT, kube=kube)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("${{ alert.labels.missing }}", "target.name"),
        ("${{ alert.labels.count }}", "resolved to 3, expected a non-empty name"),
    ],
)
async def test_names_that_do_not_resolve_to_text_are_refused(kube: KubeClient, name: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        await resolve_target(target(name=name), alert={"labels": {"count": 3}}, kube=kube)


async def test_a_cluster_scoped_target_ignores_the_namespace(api: FakeKubeApi, kube: KubeClient) -> None:
    seed_pod_chain(api)
    spec = TargetSpec.model_validate({"kind": "Node", "name": "n1", "namespace": "shop"})
    resolved = await resolve_target(spec, alert=ALERT, kube=kube)
    assert resolved.ref.display() == "Node/n1"


async def test_alert_text_that_is_no_object_name_is_refused_without_a_request(
    api: FakeKubeApi, kube: KubeClient
) -> None:
    spec = target(name="${{ alert.labels.deployment }}")
    with pytest.raises(TargetError, match=r"Pod '\.\./\.\./secrets' in namespace 'shop': name .* is not a valid"):
        await resolve_target(spec, alert={"labels": {"namespace": "shop", "deployment": "../../secrets"}}, kube=kube)
    assert api.requests == []
