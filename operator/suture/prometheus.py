"""A PromQL client for conditions, health gates and verification."""

from __future__ import annotations

import math

import aiohttp


class PrometheusError(Exception):
    """Prometheus could not answer a query; the message says why."""


class HttpPromQLClient:
    """Instant queries against Prometheus' HTTP API (``/api/v1/query``)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def query(self, *, query: str) -> float | None:
        """The value of the first sample, or None for an empty result."""
        async with (
            aiohttp.ClientSession(timeout=self._timeout) as session,
            session.get(f"{self._base}/api/v1/query", params={"query": query}) as response,
        ):
            payload = await response.json(content_type=None)
        if response.status != 200 or payload.get("status") != "success":
            raise PrometheusError(f"query {query!r} failed: {payload.get('error', response.status)}")
        data = payload["data"]
        if data["resultType"] == "scalar":
            value = float(data["result"][1])
        elif data["resultType"] == "vector":
            if not data["result"]:
                return None
            value = float(data["result"][0]["value"][1])
        else:
            raise PrometheusError(f"query {query!r} returned a {data['resultType']}, expected a vector or scalar")
        return None if math.isnan(value) else value
