"""Attempts of a step: per-attempt timeout, capped exponential backoff, error categories.

Only errors whose category is retryable (transient, conflict, timeout) are
retried; anything else fails the step at once. A step without a retry policy
gets one attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from langgraph.errors import GraphBubbleUp

from suture.actions import ActionError, ErrorCategory
from suture.api import RetryPolicy, parse_duration
from suture.expr import ExpressionError

T = TypeVar("T")


class StepFailed(Exception):
    """A step gave up; ``category`` says why, ``attempts`` how often it tried."""

    def __init__(self, message: str, *, category: ErrorCategory, attempts: int) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.attempts = attempts


class RunCancelled(Exception):
    """The run was cancelled while a step waited."""


def backoff_delays(policy: RetryPolicy | None) -> list[float]:
    """The delay before each retry: backoff, backoff*factor, ... each capped at maxBackoff."""
    if policy is None or policy.limit == 0:
        return []
    first, cap = parse_duration(policy.backoff), parse_duration(policy.max_backoff)
    return [min(first * policy.factor**i, cap) for i in range(policy.limit)]


def categorise(exc: Exception) -> tuple[ErrorCategory, str]:
    """The category and plain-words message of any exception a step raised."""
    if isinstance(exc, StepFailed):
        return exc.category, exc.message
    if isinstance(exc, ActionError):
        return exc.category, str(exc)
    if isinstance(exc, TimeoutError):
        return ErrorCategory.TIMEOUT, "timed out"
    if isinstance(exc, ExpressionError | KeyError | ValueError | TypeError):
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return ErrorCategory.INVALID, str(text)
    return ErrorCategory.FAILED, f"{type(exc).__name__}: {exc}"


async def with_retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy | None,
    timeout: float | None,
    sleep: Callable[[float], Awaitable[None]],
    on_attempt: Callable[[int], Awaitable[None]] | None = None,
    log: logging.LoggerAdapter[logging.Logger] | None = None,
) -> tuple[T, int]:
    """Run ``attempt`` until it succeeds; return (result, attempts made).

    Each attempt is bounded by ``timeout`` seconds (a timeout counts as a
    retryable failure). Raises :class:`StepFailed` with the last error when the
    error is not retryable or the retries are used up. LangGraph interrupts and
    :class:`RunCancelled` pass through untouched.
    """
    delays = backoff_delays(policy)
    number = 0
    while True:
        number += 1
        if on_attempt is not None:
            await on_attempt(number)
        try:
            if timeout is None:
                return await attempt(), number
            async with asyncio.timeout(timeout):
                return await attempt(), number
        except (GraphBubbleUp, RunCancelled):
            raise
        except TimeoutError:
            category, message = ErrorCategory.TIMEOUT, f"attempt {number} timed out after {timeout:g}s"
        except Exception as exc:
            category, message = categorise(exc)
        if not category.retryable or number > len(delays):
            raise StepFailed(message, category=category, attempts=number)
        if log is not None:
            log.info("attempt %d failed (%s): %s; retrying in %gs", number, category, message, delays[number - 1])
        await sleep(delays[number - 1])
