"""KubeClient through its transport seam: paths, queries, bodies, and how refusals and silences become errors."""

from __future__ import annotations

import pytest

from suture.errors import ErrorCategory
from suture.kube import (
    ApiError,
    ApiUnavailable,
    InvalidReference,
    KubeClient,
    KubeRequest,
    KubeResponse,
    ResourceInfo,
    TransportError,
    UnknownKind,
)
from tests.fakes.kubeapi import FakeKubeApi


class Recorder:
    """A transport that answers one canned response and remembers the request."""

    def __init__(self, response: KubeResponse) -> None:
        self.response = response
        self.sent: list[KubeRequest] = []
        self.closed = False

    async def send(self, request: KubeRequest) -> KubeResponse:
        self.sent.append(request)
        return self.response

    async def close(self) -> None:
        self.closed = True


async def test_a_patch_is_sent_with_its_content_type_field_manager_and_dry_run_flag() -> None:
    transport = Recorder(KubeResponse.json(200, {"ok": True}))
    kube = KubeClient(transport)
    answer = await kube.patch("Deployment", "web", [{"op": "test"}], "shop", patch_type="json", dry_run=True)
    sent = transport.sent[0]
    assert answer == {"ok": True}
    assert (sent.method, sent.path) == ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web")
    assert sent.content_type == "application/json-patch+json"
    assert dict(sent.query) == {"fieldManager": "suture", "dryRun": "All"}
    assert sent.content() == b'[{"op": "test"}]'


async def test_none_query_values_are_dropped_and_booleans_are_lower_case() -> None:
    transport = Recorder(KubeResponse(200, {}, b"line\n"))
    kube = KubeClient(transport)
    text = await kube.request("GET", "/x", query={"a": None, "b": True, "c": 3}, raw=True)
    assert text == "line\n"
    assert transport.sent[0].query == (("b", "true"), ("c", "3"))


async def test_a_refusal_carries_the_servers_status_reason_and_message(kube: KubeClient) -> None:
    with pytest.raises(ApiError) as caught:
        await kube.get("Pod", "ghost", "shop")
    assert caught.value.not_found
    assert caught.value.reason == "NotFound"
    assert caught.value.message == 'pods "ghost" not found'
    assert caught.value.body["details"]["name"] == "ghost"
    assert not caught.value.transient


async def test_a_refusal_that_is_not_json_keeps_its_text() -> None:
    kube = KubeClient(Recorder(KubeResponse(502, {}, b"<html>bad gateway</html>")))
    with pytest.raises(ApiError) as caught:
        await kube.request("GET", "/x")
    assert (caught.value.status, caught.value.message) == (502, "<html>bad gateway</html>")
    assert caught.value.transient


@pytest.mark.parametrize(
    "error", [ConnectionResetError("reset by peer"), TimeoutError(), TransportError("TLS handshake failed")]
)
async def test_no_answer_becomes_one_transient_api_unavailable(api: FakeKubeApi, error: BaseException) -> None:
    api.fail(method="GET", error=error)
    kube = api.client()
    with pytest.raises(ApiUnavailable) as caught:
        await kube.get("Pod", "p", "shop")
    assert caught.value.transient
    assert caught.value.retryable
    assert type(caught.value).category is ErrorCategory.TRANSIENT
    assert caught.value.status == 0
    assert "GET /api/v1/namespaces/shop/pods/p" in str(caught.value)
    assert await kube.get_or_none("Pod", "p", "shop") is None  # the fault fired once


async def test_get_or_none_still_raises_what_is_not_a_404(api: FakeKubeApi, kube: KubeClient) -> None:
    api.fail(status=429)
    with pytest.raises(ApiError) as caught:
        await kube.get_or_none("Pod", "p", "shop")
    assert caught.value.status == 429
    assert caught.value.transient


@pytest.mark.parametrize(
    ("name", "namespace"),
    [("../secrets", "shop"), ("a/b", "shop"), ("..", "shop"), ("web", "Shop"), ("web", "a/b"), ("", "shop")],
)
async def test_names_that_would_change_the_path_are_refused_before_sending(
    api: FakeKubeApi, kube: KubeClient, name: str, namespace: str
) -> None:
    with pytest.raises(InvalidReference):
        await kube.get("Pod", name, namespace)
    with pytest.raises(InvalidReference, match="not a valid"):
        await kube.delete("Pod", name, namespace)
    assert api.requests == []


@pytest.mark.parametrize(
    ("kind", "api_version"), [("Pod/../secrets", "v1"), ("Widget", "x.io/v1/../v2"), ("Widget", "X_io/v1")]
)
async def test_kinds_and_api_versions_are_checked_text(kube: KubeClient, kind: str, api_version: str) -> None:
    with pytest.raises(InvalidReference):
        await kube.list(kind, api_version=api_version)


async def test_an_unknown_kind_is_never_guessed_into_a_path(api: FakeKubeApi, kube: KubeClient) -> None:
    with pytest.raises(UnknownKind, match="give its apiVersion"):
        await kube.get("Widget", "w", "shop")
    with pytest.raises(UnknownKind, match="not served"):
        await kube.get("Widget", "w", "shop", api_version="example.com/v1")
    with pytest.raises(UnknownKind, match="'Widget' is not served in apiVersion 'apps/v1'"):
        await kube.get("Widget", "w", "shop", api_version="apps/v1")
    assert all(r.path in ("/apis/example.com/v1", "/apis/apps/v1") for r in api.requests)


async def test_a_served_custom_kind_is_discovered_once(api: FakeKubeApi, kube: KubeClient) -> None:
    api.serve(ResourceInfo("example.com/v1", "Widget", "widgets", True))
    api.add({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}})
    first = await kube.get("Widget", "w", "shop", api_version="example.com/v1")
    again = await kube.list("Widget", "shop", api_version="example.com/v1")
    assert first["metadata"]["name"] == again[0]["metadata"]["name"] == "w"
    assert [r.path for r in api.requests].count("/apis/example.com/v1") == 1
    assert kube.info("Widget", "example.com/v1").plural == "widgets"


async def test_create_of_a_subresource_and_pod_logs_use_checked_paths(api: FakeKubeApi, kube: KubeClient) -> None:
    api.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}})
    api.logs[("shop", "p")] = "one\ntwo\nthree\n"
    assert await kube.pod_logs("p", "shop", tail_lines=2) == "two\nthree\n"
    await kube.create(
        "Pod", {"apiVersion": "policy/v1", "kind": "Eviction"}, "shop", subresource_of="p", subresource="eviction"
    )
    assert api.get("Pod", "p", "shop") is None
    with pytest.raises(InvalidReference):
        await kube.create("Pod", {}, "shop", subresource_of="p", subresource="../x")


async def test_delete_sends_preconditions_propagation_and_dry_run(api: FakeKubeApi, kube: KubeClient) -> None:
    (pod,) = api.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}})
    await kube.delete("Pod", "p", "shop", uid=pod["metadata"]["uid"], dry_run=True, grace_period_seconds=0)
    (write,) = api.writes()
    assert write.body["preconditions"] == {"uid": pod["metadata"]["uid"]}
    assert write.body["gracePeriodSeconds"] == 0
    assert write.dry_run
    assert not write.persisted
    assert api.get("Pod", "p", "shop") is not None


async def test_the_client_closes_its_transport() -> None:
    transport = Recorder(KubeResponse(200))
    async with KubeClient(transport) as kube:
        assert kube.transport is transport
        assert await kube.request("GET", "/x") == {}
    assert transport.closed


async def test_a_failing_discovery_is_raised_as_it_came(api: FakeKubeApi, kube: KubeClient) -> None:
    api.fail(method="GET", path_has="/apis/example.com/v1", status=503)
    with pytest.raises(ApiError) as caught:
        await kube.get("Widget", "w", "shop", api_version="example.com/v1")
    assert caught.value.status == 503


def test_a_request_without_a_content_type_is_json() -> None:
    request = KubeRequest("GET", "/api/v1/pods", query=(("limit", "1"), ("limit", "2")))
    assert request.content_type == "application/json"
    assert request.param("limit") == "2"
    assert request.param("missing") is None
    assert request.content() == b""
