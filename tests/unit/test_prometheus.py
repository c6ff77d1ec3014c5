"""The PromQL client maps Prometheus' failures once: no answer or a 5xx is transient, a refused query invalid."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from suture.errors import InvalidQuery, PrometheusUnavailable
from suture.prometheus import HttpPromQLClient

Serve = Callable[[int, Any], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a local server answering /api/v1/query with (status, JSON body); returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(status: int, body: Any) -> str:
        async def handle(request: web.Request) -> web.Response:
            if isinstance(body, str):
                return web.Response(status=status, text=body, content_type="text/html")
            return web.json_response(body, status=status)

        app = web.Application()
        app.router.add_get("/api/v1/query", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_vector_answer_is_its_first_sample(serve: Serve) -> None:
    url = await serve(200, {"status": "success", "data": {"resultType": "vector", "result": [{"value": [0, "4"]}]}})
    assert await HttpPromQLClient(url).query(query="up") == 4.0


async def test_no_answer_is_prometheus_unavailable_and_transient() -> None:
    client = HttpPromQLClient(f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    with pytest.raises(PrometheusUnavailable, match="did not answer") as caught:
        await client.query(query="up")
    assert caught.value.retryable


async def test_a_server_error_is_prometheus_unavailable(serve: Serve) -> None:
    url = await serve(503, {"status": "error", "error": "query engine overloaded"})
    with pytest.raises(PrometheusUnavailable, match="overloaded") as caught:
        await HttpPromQLClient(url).query(query="up")
    assert caught.value.retryable


async def test_an_html_error_page_is_prometheus_unavailable(serve: Serve) -> None:
    url = await serve(502, "<html>Bad Gateway</html>")
    with pytest.raises(PrometheusUnavailable, match="without JSON"):
        await HttpPromQLClient(url).query(query="up")


async def test_a_refused_query_is_invalid_and_not_retried(serve: Serve) -> None:
    url = await serve(400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    with pytest.raises(InvalidQuery, match="parse error") as caught:
        await HttpPromQLClient(url).query(query="sum(")
    assert not caught.value.retryable


async def test_a_matrix_answer_is_an_invalid_query(serve: Serve) -> None:
    url = await serve(200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
    with pytest.raises(InvalidQuery, match="matrix"):
        await HttpPromQLClient(url).query(query="up[5m]")
