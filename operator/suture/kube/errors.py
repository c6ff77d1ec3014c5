"""The errors of Suture's Kubernetes client, one small tree.

::

    ApiError                  the API server refused (``status`` is its HTTP code)
    ├── ApiUnavailable        no answer at all (status 0); always transient
    ├── InvalidReference      a kind, apiVersion, name or namespace unfit for a URL path (400, never sent)
    └── UnknownKind           a kind neither in the table nor served (404, never guessed)

``InvalidReference`` and ``UnknownKind`` are also ``ValueError``s: callers
that treated a bad kind as a ValueError keep working, and callers that handle
ApiError by status (404 missing, 400 invalid) see what the server would have
answered for such a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP code."""

    def __init__(self, status: int, reason: str, message: str, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = dict(body or {})

    @property
    def not_found(self) -> bool:
        """The object (or its collection) does not exist."""
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """Optimistic-concurrency conflict or already-exists."""
        return self.status == 409

    @property
    def transient(self) -> bool:
        """Worth retrying as is: throttled (429), a server-side failure (5xx), or no answer at all."""
        return self.status == 429 or self.status >= 500


class ApiUnavailable(ApiError):
    """No answer from the API server (connection refused or reset, timeout); always transient.

    ``status`` is 0: the server said nothing.
    """

    def __init__(self, message: str) -> None:
        super().__init__(0, "Unavailable", message)

    @property
    def transient(self) -> bool:
        """Always: the request may not even have reached the server."""
        return True


class InvalidReference(ApiError, ValueError):
    """A kind, apiVersion, name or namespace that cannot safely become part of a URL path (nothing was sent)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


class UnknownKind(ApiError, ValueError):
    """A kind neither in the table nor registered (nor, in the client, discoverable); nothing was guessed."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "NotFound", message)
