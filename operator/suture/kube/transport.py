"""The seam between :class:`~suture.kube.KubeClient` and the wire.

A :class:`Transport` sends one :class:`KubeRequest` and answers one
:class:`KubeResponse`, whatever the status code: deciding what a 404 or a 500
means is the client's job, done once. Production uses
:class:`~suture.kube.aio.AioTransport` over ``kubernetes.aio``; tests hand the
client an in-memory API server instead, as httpx's ``MockTransport`` does.

A transport that cannot get an answer at all (connection refused or reset, TLS
failure, timeout) raises :class:`TransportError`, :class:`OSError` or
:class:`TimeoutError`; the client turns each into one transient error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class TransportError(Exception):
    """No answer came back: the connection failed, broke or timed out."""


@dataclass(frozen=True)
class KubeRequest:
    """One REST call: ``path`` is absolute (``/api/v1/...``) and already validated."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    """The JSON value to send (a dict, or a list for a JSON patch); None sends no body."""
    timeout: float = 30.0
    """Seconds the whole exchange may take."""

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or None."""
        found = None
        for key, value in self.query:
            if key == name:
                found = value
        return found

    @property
    def content_type(self) -> str:
        """The Content-Type header (``application/json`` when unset)."""
        for key, value in self.headers.items():
            if key.lower() == "content-type":
                return value
        return "application/json"

    def content(self) -> bytes:
        """The body as sent on the wire (empty when there is none)."""
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class KubeResponse:
    """What the server answered, undecoded."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    @classmethod
    def json(cls, status: int, body: Any, headers: Mapping[str, str] | None = None) -> KubeResponse:
        """A JSON answer (a convenience for transports that build answers)."""
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


class Transport(Protocol):
    """Sends requests to an API server; raises only when no answer came back."""

    async def send(self, request: KubeRequest) -> KubeResponse:
        """Answer ``request``; raises TransportError, OSError or TimeoutError when there is no answer."""
        ...

    async def close(self) -> None:
        """Release connections; the transport is not used afterwards."""
        ...
