"""A PromQL client for conditions, health gates and verification.

This is where Prometheus' failures are mapped, once: no answer at all
(connection refused or reset, a timeout) or a 5xx is
:class:`~suture.errors.PrometheusUnavailable` (transient, so a step with a
``retry`` tries again); a query Prometheus refuses, or a result that is not a
vector or scalar, is :class:`~suture.errors.InvalidQuery` (invalid).
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp

from suture.errors import InvalidQuery, PrometheusError, PrometheusUnavailable

__all__ = ["HttpPromQLClient", "InvalidQuery", "PrometheusError", "PrometheusUnavailable"]


class HttpPromQLClient:
    """Instant queries against Prometheus' HTTP API (``/api/v1/query``)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def query(self, *, query: str) -> float | None:
        """The value of the first sample, or None for an empty result.

        Raises PrometheusUnavailable when Prometheus gives no answer or a 5xx,
        InvalidQuery when it refuses the query or answers a matrix or string.
        """
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(f"{self._base}/api/v1/query", params={"query": query}) as response,
            ):
                status = response.status
                payload: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # ClientOSError is also an OSError, and aiohttp's timeouts are TimeoutErrors: one shape for "no answer".
            raise PrometheusUnavailable(
                f"Prometheus at {self._base} did not answer: {exc or type(exc).__name__}"
            ) from exc
        except ValueError as exc:  # a proxy's HTML error page, not Prometheus' JSON
            raise PrometheusUnavailable(f"Prometheus at {self._base} answered {status} without JSON") from exc
        if status >= 500:
            error = payload.get("error", status) if isinstance(payload, dict) else status
            raise PrometheusUnavailable(f"Prometheus at {self._base} failed query {query!r}: {error}")
        if status != 200 or not isinstance(payload, dict) or payload.get("status") != "success":
            error = payload.get("error", status) if isinstance(payload, dict) else status
            raise InvalidQuery(f"query {query!r} failed: {error}")
        data = payload["data"]
        if data["resultType"] == "scalar":
            value = float(data["result"][1])
        elif data["resultType"] == "vector":
            if not data["result"]:
                return None
            value = float(data["result"][0]["value"][1])
        else:
            raise InvalidQuery(f"query {query!r} returned a {data['resultType']}, expected a vector or scalar")
        return None if math.isnan(value) else value
