"""Asking Alertmanager (API v2) whether an alert still fires.

Alert labels are untrusted: they reach Alertmanager only as quoted matcher
values with backslash, quote and newline escaped, as query parameters that
aiohttp encodes; never spliced into the URL. Label names that are not valid
Prometheus label names are left out of the filter (the fingerprint decides).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class AlertmanagerUnavailable(Exception):
    """Alertmanager gave no usable answer; the verifier treats it as no signal for now."""


class AlertSource(Protocol):
    """Tells which alerts are still active."""

    async def active_fingerprints(self, labels: Mapping[str, str]) -> set[str]:
        """Fingerprints of the alerts Alertmanager still holds (firing, silenced or inhibited) with these labels.

        Raises AlertmanagerUnavailable when it cannot tell.
        """


def quote_matcher_value(value: str) -> str:
    """``value`` as a double-quoted Alertmanager matcher value: ``\\``, ``"`` and newlines escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def matchers(labels: Mapping[str, str]) -> list[str]:
    """Equality matchers for every label with a valid name, sorted (``alertname`` included when present)."""
    return [
        f"{name}={quote_matcher_value(str(value))}" for name, value in sorted(labels.items()) if _LABEL_NAME.match(name)
    ]


class HttpAlertmanager:
    """``GET /api/v2/alerts?filter=...`` against one Alertmanager."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def active_fingerprints(self, labels: Mapping[str, str]) -> set[str]:
        """See :class:`AlertSource`. Resolved alerts are not listed by Alertmanager's API."""
        params = [("filter", m) for m in matchers(labels)]
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(f"{self._base}/api/v2/alerts", params=params) as response,
            ):
                status = response.status
                payload: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise AlertmanagerUnavailable(f"Alertmanager at {self._base} did not answer: {type(exc).__name__}") from exc
        if status != 200 or not isinstance(payload, list):
            raise AlertmanagerUnavailable(f"Alertmanager at {self._base} answered {status}")
        return {str(alert.get("fingerprint", "")) for alert in payload if isinstance(alert, dict)}
