"""What running one step produced, and the signature of a step executor."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from suture.api import Step
from suture.engine.scope import Scope
from suture.engine.state import FAILED

CANCELLED_CATEGORY = "cancelled"


@dataclass
class StepResult:
    """The end of one step: phase (Succeeded, Failed, Skipped), message, output and why it failed."""

    name: str
    phase: str
    message: str = ""
    output: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    branch: bool | None = None  # a condition's verdict
    category: str = ""  # the ErrorCategory of a failure, or "cancelled", "rejected", "approval-timeout"

    @property
    def failed(self) -> bool:
        """True when the step failed."""
        return self.phase == FAILED


class Executor(Protocol):
    """Runs one step in a scope (``name`` overrides the step's name, e.g. ``fix[2]`` in a foreach)."""

    def __call__(self, step: Step, scope: Scope, *, name: str | None = None) -> Awaitable[StepResult]:
        """Run the step; failures are returned, not raised (interrupts and task cancellation propagate)."""
