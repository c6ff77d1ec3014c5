"""What a run does to the world: call actions, ask people, wait, and watch checks.

The engine's step dispatch is the same for a real run and for ``suture
simulate``; only these effects differ. :class:`LiveEffects` is a real run:
actions change the cluster (unless dry-run is asked for), approvals pause the
run with a LangGraph interrupt, waits wait and checks are polled.
``suture.simulation`` supplies plan effects: dry-run actions, assumed
approvals, a single look at every watched check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from suture import metrics
from suture.actions import ActionContext, ActionResult, Registry
from suture.api import Check
from suture.errors import category_of
from suture.logs import mark_stage

Look = Callable[[], Awaitable[tuple[bool, str]]]
"""Evaluate a check once: (holds, plain-words detail). May raise what the check raises."""
Pause = Callable[[float], Awaitable[None]]
"""Sleep that a cancellation of the run interrupts (``Scope.pause``)."""


@dataclass(frozen=True)
class Verdict:
    """A condition's answer."""

    holds: bool
    detail: str
    assumed: bool = False  # the check could not be evaluated; ``holds`` is an assumption the detail explains


@dataclass(frozen=True)
class Watch:
    """The end of watching a check over time (``wait.until``, a rollout's health gate)."""

    passed: bool  # the run goes on (False: the wait timed out, the gate failed)
    detail: str  # plain words for the step's message


class Effects(Protocol):
    """The engine's side of the world; every method may be called again when a node re-runs after a restart."""

    @property
    def dry_run(self) -> bool:
        """True when every action must be sent with server-side dry-run, whatever the run asked."""

    async def invoke(
        self, registry: Registry, name: str, params: Mapping[str, Any], ctx: ActionContext, *, label: str
    ) -> ActionResult:
        """Run action ``name`` for the step (or rollout object) ``label``; raise ActionError like the registry."""

    async def ask(self, request: Mapping[str, Any]) -> Any:
        """A person's answer to an approval ``request`` (kind, step, message, timeout, deadline)."""

    async def decide(self, check: Check, look: Look) -> Verdict:
        """Evaluate a condition's ``check`` through ``look``."""

    async def elapse(self, seconds: float, *, text: str, pause: Pause) -> str:
        """A ``wait.duration``; returns the step's message."""

    async def until(self, look: Look, *, interval: float, limit: float, limit_text: str, pause: Pause) -> Watch:
        """Poll ``look`` every ``interval`` until it holds or ``limit`` seconds passed (``wait.until``)."""

    async def hold(self, look: Look, *, interval: float, duration: float, duration_text: str, pause: Pause) -> Watch:
        """Poll ``look`` for ``duration``; fail at the first poll that does not hold (a health gate)."""


class LiveEffects:
    """A real run."""

    @property
    def dry_run(self) -> bool:
        """A real run leaves dry-run to the template, the Remediation and the operator's setting."""
        return False

    async def invoke(
        self, registry: Registry, name: str, params: Mapping[str, Any], ctx: ActionContext, *, label: str
    ) -> ActionResult:
        """Call the registry, timing the call and counting its errors by category (real runs only)."""
        started = time.perf_counter()
        mark_stage("action_called", ctx.remediation)
        try:
            result = await registry.invoke(name, params, ctx)
            mark_stage("action_applied", ctx.remediation)
            return result
        except Exception as exc:
            metrics.ACTION_ERRORS.labels(name, str(category_of(exc))).inc()
            raise
        finally:
            metrics.ACTION_DURATION.labels(name).observe(time.perf_counter() - started)

    async def ask(self, request: Mapping[str, Any]) -> Any:
        """Pause the run with a LangGraph interrupt; the engine resumes it with the answer."""
        from langgraph.types import interrupt  # lazily: see suture.engine

        return interrupt(dict(request))

    async def decide(self, check: Check, look: Look) -> Verdict:
        """Evaluate the check; its errors fail the step."""
        holds, detail = await look()
        return Verdict(holds, detail)

    async def elapse(self, seconds: float, *, text: str, pause: Pause) -> str:
        """Sleep (cancellably)."""
        await pause(seconds)
        return f"waited {text}"

    async def until(self, look: Look, *, interval: float, limit: float, limit_text: str, pause: Pause) -> Watch:
        """Poll until the check holds or the limit passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        polls = 0
        while True:
            polls += 1
            holds, detail = await look()
            if holds:
                return Watch(True, f"condition held after {polls} check(s): {detail}")
            if loop.time() >= deadline:
                return Watch(False, f"condition did not hold within {limit_text}: {detail}")
            await pause(min(interval, max(deadline - loop.time(), 0.0)))

    async def hold(self, look: Look, *, interval: float, duration: float, duration_text: str, pause: Pause) -> Watch:
        """Poll for the whole duration; the first poll that does not hold fails the gate."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        polls = 0
        while True:
            polls += 1
            holds, detail = await look()
            if not holds:
                return Watch(False, detail)
            if loop.time() >= deadline:
                return Watch(True, f"held for {duration_text} ({polls} checks)")
            await pause(min(interval, max(deadline - loop.time(), 0.0)))
