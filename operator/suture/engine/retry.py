"""Attempts of a step: per-attempt timeout, capped exponential backoff.

The category of a failure is its class's (:mod:`suture.errors`); nothing is
guessed from Python types. Only retryable categories (transient, conflict,
timeout) are retried, and an attempt that runs out of time counts as a
timeout. An exception outside Suture's tree is a bug: category failed, not
retried, its type named in the message. A step without a retry policy gets
one attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from suture.api import RetryPolicy, parse_duration
from suture.errors import ErrorCategory, RunCancelled, StepFailed, category_of, describe

__all__ = ["RunCancelled", "StepFailed", "backoff_delays", "with_retry"]

T = TypeVar("T")


def backoff_delays(policy: RetryPolicy | None) -> list[float]:
    """The delay before each retry: backoff, backoff*factor, ... each capped at maxBackoff."""
    if policy is None or policy.limit == 0:
        return []
    first, cap = parse_duration(policy.backoff), parse_duration(policy.max_backoff)
    return [min(first * policy.factor**i, cap) for i in range(policy.limit)]


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
    retryable failure). A :class:`~suture.errors.SutureError` is retried when
    its category is retryable; anything else is not. Raises
    :class:`StepFailed` of the last error's category when the error is not
    retryable or the retries are used up. LangGraph interrupts and
    :class:`RunCancelled` pass through untouched.
    """
    from langgraph.errors import GraphBubbleUp  # lazily: see suture.engine

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
        except StepFailed as exc:  # a nested step's verdict, already in words
            category, message = exc.category, exc.message
        except Exception as exc:
            category, message = category_of(exc), describe(exc)
        if not category.retryable or number > len(delays):
            raise StepFailed(message, category=category, attempts=number)
        if log is not None:
            log.info("attempt %d failed (%s): %s; retrying in %gs", number, category, message, delays[number - 1])
        await sleep(delays[number - 1])
