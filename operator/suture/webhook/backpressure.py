"""A bound on the webhook requests being worked on at once: when it is reached, 503 with Retry-After.

Without it a burst of notifications queues without limit (each holding its
body, its alerts and API calls in flight) and every reply gets slower until
Alertmanager's own timeout turns them all into retries at once. With it the
excess is refused at once and cheaply, before the body is read; Alertmanager
retries a 503 later, so nothing is lost, and the requests admitted keep
their latency.
"""

from __future__ import annotations

from suture import metrics

DEFAULT_MAX_IN_FLIGHT = 64
RETRY_AFTER_SECONDS = 1


class InFlight:
    """Counts admitted requests; single event loop, so plain integers suffice (no awaits in between)."""

    def __init__(self, limit: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if limit < 1:
            raise ValueError(f"the webhook's in-flight limit must be at least 1, not {limit}")
        self.limit = limit
        self.current = 0
        self.peak = 0  # most requests ever admitted at once: never above ``limit``

    def try_enter(self) -> bool:
        """Admit one request, or refuse (False) when ``limit`` are already being worked on."""
        if self.current >= self.limit:
            metrics.WEBHOOK_REJECTED_BUSY.inc()
            return False
        self.current += 1
        self.peak = max(self.peak, self.current)
        metrics.WEBHOOK_IN_FLIGHT.set(self.current)
        return True

    def leave(self) -> None:
        """One admitted request is answered."""
        self.current -= 1
        metrics.WEBHOOK_IN_FLIGHT.set(self.current)
