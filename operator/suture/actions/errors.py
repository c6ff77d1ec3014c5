"""Errors of actions and of the registry.

Every ActionError carries a category, which is what the engine's retry policy
reads: ``transient``, ``conflict`` (once the action gave up its own retries)
and ``timeout`` are worth retrying; see :attr:`ErrorCategory.retryable`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCategory(StrEnum):
    """Why an action failed; decides whether a retry can help."""

    TRANSIENT = "transient"  # API unavailable, throttled, 5xx: retry
    CONFLICT = "conflict"  # optimistic-concurrency conflict that outlived our own retries
    INVALID = "invalid"  # bad parameters or an object in a state the action cannot handle
    FORBIDDEN = "forbidden"  # RBAC or safety policy says no
    NOT_FOUND = "not-found"  # the target does not exist
    TIMEOUT = "timeout"  # the action waited for something that did not happen in time
    FAILED = "failed"  # anything else: the action ran and did not achieve its goal

    @property
    def retryable(self) -> bool:
        """True for the categories a retry can fix."""
        return self in (ErrorCategory.TRANSIENT, ErrorCategory.CONFLICT, ErrorCategory.TIMEOUT)


class ActionError(Exception):
    """An action failed; ``str()`` is the plain-words message shown in status."""

    def __init__(self, message: str, *, category: ErrorCategory = ErrorCategory.FAILED, action: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.action = action

    def __str__(self) -> str:
        prefix = f"{self.action}: " if self.action else ""
        return f"{prefix}{self.message}"


class RegistryError(Exception):
    """A pack could not be loaded, or two packs register the same action."""
