"""The production transport against a small local HTTP server: auth, paths, queries, bodies and silences."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from suture.kube import ApiError, ApiUnavailable, KubeClient, connect
from tests.conftest import free_port

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:{port}"}}]
users: [{name: u, user: {token: s3cret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


class Server:
    """Answers every request with the next canned (status, body) and records what it received."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.answers: list[tuple[int, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "type": request.headers.get("Content-Type"),
                "agent": request.headers.get("User-Agent"),
                "body": json.loads(body) if body else None,
            }
        )
        status, answer = self.answers.pop(0) if self.answers else (200, {})
        if isinstance(answer, str):
            return web.Response(status=status, text=answer)
        return web.json_response(answer, status=status)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Server, KubeClient, web.AppRunner]]:
    server = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG.replace("{port}", str(port)))
    kube = await connect(str(config))
    try:
        yield server, kube, runner
    finally:
        await kube.close()
        await runner.cleanup()


async def test_requests_carry_the_token_query_and_json_body(served: tuple[Server, KubeClient, web.AppRunner]) -> None:
    server, kube, _ = served
    server.answers.append((200, {"metadata": {"name": "web"}}))
    answer = await kube.patch("Deployment", "web", {"spec": {"replicas": 2}}, "shop", dry_run=True)
    assert answer == {"metadata": {"name": "web"}}
    (seen,) = server.seen
    assert seen["method"] == "PATCH"
    assert seen["path"] == "/apis/apps/v1/namespaces/shop/deployments/web"
    assert seen["query"] == {"fieldManager": "suture", "dryRun": "All"}
    assert seen["auth"] == "Bearer s3cret"
    assert seen["type"] == "application/merge-patch+json"
    assert seen["agent"] == "suture/0.1"
    assert seen["body"] == {"spec": {"replicas": 2}}


async def test_a_json_patch_list_and_a_text_answer_pass_through(
    served: tuple[Server, KubeClient, web.AppRunner],
) -> None:
    server, kube, _ = served
    server.answers += [(200, {}), (200, "line one\n")]
    ops = [{"op": "test", "path": "/spec/replicas", "value": 1}]
    await kube.patch("Deployment", "web", ops, "shop", patch_type="json")
    assert server.seen[0]["body"] == ops
    assert server.seen[0]["type"] == "application/json-patch+json"
    assert await kube.pod_logs("p", "shop", container="app", tail_lines=5) == "line one\n"
    assert server.seen[1]["query"] == {"container": "app", "tailLines": "5"}


async def test_the_servers_status_becomes_an_api_error(served: tuple[Server, KubeClient, web.AppRunner]) -> None:
    server, kube, _ = served
    server.answers.append((409, {"kind": "Status", "reason": "AlreadyExists", "message": 'pods "p" already exists'}))
    with pytest.raises(ApiError) as caught:
        await kube.create("Pod", {"metadata": {"name": "p"}}, "shop")
    assert (caught.value.status, caught.value.reason) == (409, "AlreadyExists")
    assert caught.value.conflict


async def test_a_server_that_is_gone_is_api_unavailable(served: tuple[Server, KubeClient, web.AppRunner]) -> None:
    _, kube, runner = served
    await runner.cleanup()
    with pytest.raises(ApiUnavailable) as caught:
        await kube.get("Pod", "p", "shop")
    assert caught.value.transient


async def test_without_a_kubeconfig_the_in_cluster_account_is_tried_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.aio import config as aio_config

    from suture.kube import aiotransport

    tried: list[str] = []

    def not_in_a_cluster(**_: Any) -> None:
        tried.append("in-cluster")
        raise aio_config.ConfigException("no service account here")

    async def default_kubeconfig(**kwargs: Any) -> None:
        tried.append(f"kubeconfig context={kwargs['context']}")

    monkeypatch.setattr(aio_config, "load_incluster_config", not_in_a_cluster)
    monkeypatch.setattr(aio_config, "load_kube_config", default_kubeconfig)
    transport = await aiotransport.open_transport(None, context="dev")
    await transport.close()
    assert tried == ["in-cluster", "kubeconfig context=dev"]
