"""notify against a real aiohttp webhook server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from suture.actions import ActionContext, ActionError, ErrorCategory, load_registry
from suture.kube import KubeClient

registry = load_registry()
SECRET = "T0SECRET/B0SECRET/xoxb-very-secret-token"


@dataclass
class Webhook:
    """A loopback webhook that records what it receives and answers as told by the path."""

    base: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()

    async def handle(request: web.Request) -> web.Response:
        hook.received.append(
            {
                "path": request.path,
                "query": request.query_string,
                "contentType": request.content_type,
                "idempotencyKey": request.headers.get("Idempotency-Key"),
                "body": await request.json(),
            }
        )
        answer = request.match_info["answer"]
        if answer == "slow":
            await asyncio.sleep(1.5)
        if answer.isdigit():
            # Echo the path back, as some servers do, to prove the action scrubs it.
            return web.Response(status=int(answer), text=f"rejected {request.path_qs}")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{answer}/{rest:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hook.base = f"http://{host}:{port}"
    try:
        yield hook
    finally:
        await runner.cleanup()


def _no_secret(*texts: Any) -> None:
    for text in texts:
        dumped = json.dumps(text) if not isinstance(text, str) else text
        for piece in ("SECRET", "xoxb", "token=", "hunter2"):
            assert piece not in dumped, dumped


PARAMS: dict[str, Any] = {
    "text": "KubePodCrashLooping in shop/web: restarted the deployment",
    "title": "Suture remediation",
    "severity": "critical",
    "fields": {"namespace": "shop", "steps": "restart, verify, and a rather long value that is not short"},
}


async def test_posts_a_slack_body_and_never_reveals_the_url(kube: KubeClient, webhook: Webhook) -> None:
    url = f"{webhook.base}/ok/services/{SECRET}?token=hunter2"
    ctx = ActionContext(kube=kube, idempotency_key="sut-0123456789abcdef01234567")
    result = await registry.invoke("notify", {**PARAMS, "url": url}, ctx)
    assert result.changed
    assert result.output == {"url": f"{webhook.base}/…", "sent": True, "status": 200}
    _no_secret(result.message, result.output)
    assert result.undo is None
    assert not registry.get("notify").reversible

    assert len(webhook.received) == 1
    got = webhook.received[0]
    assert got["path"] == f"/ok/services/{SECRET}"
    assert got["query"] == "token=hunter2"
    assert got["contentType"] == "application/json"
    assert got["idempotencyKey"] == "sut-0123456789abcdef01234567"  # a receiver can drop a replayed post
    assert got["body"] == {
        "text": PARAMS["text"],
        "attachments": [
            {
                "title": "Suture remediation",
                "color": "danger",
                "fields": [
                    {"title": "namespace", "value": "shop", "short": True},
                    {"title": "steps", "value": PARAMS["fields"]["steps"], "short": False},
                ],
            }
        ],
    }


async def test_text_only_message_has_no_attachment(kube: KubeClient, webhook: Webhook) -> None:
    await registry.invoke("notify", {"url": f"{webhook.base}/ok/x", "text": "hello"}, ActionContext(kube=kube))
    assert webhook.received[0]["body"] == {"text": "hello"}


async def test_dry_run_sends_nothing_and_shows_the_body(kube: KubeClient, webhook: Webhook) -> None:
    url = f"{webhook.base}/ok/services/{SECRET}?token=hunter2"
    result = await registry.invoke("notify", {**PARAMS, "url": url}, ActionContext(kube=kube, dry_run=True))
    assert result.dry_run
    assert not result.changed
    assert result.output["sent"] is False
    assert result.output["payload"]["text"] == PARAMS["text"]
    assert "would post" in result.message
    _no_secret(result.message, result.output)
    await asyncio.sleep(0.2)  # give a stray request time to arrive, were one sent
    assert webhook.received == []


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (500, ErrorCategory.TRANSIENT),
        (503, ErrorCategory.TRANSIENT),
        (429, ErrorCategory.TRANSIENT),
        (400, ErrorCategory.FAILED),
        (403, ErrorCategory.FAILED),
        (404, ErrorCategory.NOT_FOUND),
    ],
)
async def test_error_answers(kube: KubeClient, webhook: Webhook, status: int, category: ErrorCategory) -> None:
    url = f"{webhook.base}/{status}/services/{SECRET}?token=hunter2"
    with pytest.raises(ActionError) as info:
        await registry.invoke("notify", {**PARAMS, "url": url}, ActionContext(kube=kube))
    assert info.value.category is category
    assert str(status) in str(info.value)
    _no_secret(str(info.value), repr(info.value.__cause__), repr(info.value.__context__))
    assert len(webhook.received) == 1


async def test_timeout_and_unreachable(kube: KubeClient, webhook: Webhook) -> None:
    url = f"{webhook.base}/slow/services/{SECRET}?token=hunter2"
    with pytest.raises(ActionError) as info:
        await registry.invoke("notify", {**PARAMS, "url": url, "timeoutSeconds": 0.3}, ActionContext(kube=kube))
    assert info.value.category is ErrorCategory.TIMEOUT
    _no_secret(str(info.value))

    # A port nothing listens on: bind one, note it, close it.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ActionError) as info:
        await registry.invoke(
            "notify", {**PARAMS, "url": f"http://127.0.0.1:{port}/x/{SECRET}?token=hunter2"}, ActionContext(kube=kube)
        )
    assert info.value.category is ErrorCategory.TRANSIENT
    _no_secret(str(info.value))


async def test_rejects_non_http_urls_without_echoing_them(kube: KubeClient) -> None:
    for url in (f"ftp://example.test/{SECRET}", f"file:///{SECRET}", f"http:///{SECRET}"):
        with pytest.raises(ActionError) as info:
            await registry.invoke("notify", {**PARAMS, "url": url}, ActionContext(kube=kube))
        assert info.value.category is ErrorCategory.INVALID
        _no_secret(str(info.value))
