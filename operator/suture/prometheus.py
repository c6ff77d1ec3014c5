"""A PromQL client for conditions, health gates and verification.

This is where Prometheus' failures are mapped, once: no answer at all
(connection refused or reset, a timeout) or a 5xx is
:class:`~suture.errors.PrometheusUnavailable` (transient, so a step with a
``retry`` tries again); a query Prometheus refuses, or a result that is not a
vector or scalar, is :class:`~suture.errors.InvalidQuery` (invalid).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from suture.errors import InvalidQuery, PrometheusError, PrometheusUnavailable

__all__ = [
    "MATCHERS_PLACEHOLDER",
    "HttpPromQLClient",
    "InvalidQuery",
    "LabelMatcher",
    "PrometheusError",
    "PrometheusUnavailable",
    "render_matchers",
    "with_matchers",
]

MATCHERS_PLACEHOLDER = "$matchers"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class LabelMatcher(BaseModel):
    """One PromQL label matcher as data: the value is quoted and escaped here, never pasted into a query.

    Alert labels are untrusted; a value like ``"} or vector(1) #`` stays one
    string literal inside the selector, whatever it holds.
    """

    model_config = ConfigDict(extra="forbid")

    label: str = Field(pattern=_LABEL_NAME.pattern, max_length=128, description="The label name.")
    op: Literal["=", "!=", "=~", "!~"] = Field(default="=", description="PromQL's matcher operator.")
    value: str = Field(max_length=1024, description="The value (a string literal; an RE2 regex for =~ and !~).")


def _quoted(value: str) -> str:
    """``value`` as a PromQL double-quoted string: backslash, quote and control characters escaped."""
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render_matchers(matchers: Sequence[LabelMatcher]) -> str:
    """The matchers as the inside of a selector, comma-separated: ``service="checkout",code!~"5.."``."""
    return ",".join(f"{m.label}{m.op}{_quoted(m.value)}" for m in matchers)


def with_matchers(query: str, matchers: Sequence[LabelMatcher]) -> str:
    """``query`` with every ``$matchers`` replaced by the rendered matchers (inside braces the query wrote).

    Raises ValueError when matchers are given and the query has no place for
    them, or the query has the placeholder and no matchers are given.
    """
    if MATCHERS_PLACEHOLDER not in query:
        if matchers:
            raise ValueError(f"the query has no {MATCHERS_PLACEHOLDER} where its matchers would go")
        return query
    if not matchers:
        raise ValueError(f"the query uses {MATCHERS_PLACEHOLDER} but no matchers are given")
    return query.replace(MATCHERS_PLACEHOLDER, render_matchers(matchers))


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
