"""Fake actions, a fake PromQL client and a fake template source for engine tests (no cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from suture.actions import ActionContext, ActionError, ActionResult, ErrorCategory, RbacRule, Registry, Risk, action
from suture.api import WorkflowTemplateSpec
from suture.errors import TemplateNotFound

NO_RBAC: tuple[RbacRule, ...] = ()


class NameParams(BaseModel):
    name: str
    value: Any = None


class FlakyParams(BaseModel):
    name: str
    failures: int = 0
    category: str = "transient"


class GateParams(BaseModel):
    name: str
    wait_for: str | None = None
    release: str | None = None


class SlowParams(BaseModel):
    seconds: float


@dataclass
class Ledger:
    """What the fake actions did, in order, and the levers tests pull."""

    events: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    contexts: list[ActionContext] = field(default_factory=list)

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    def done(self) -> list[str]:
        return [e.removeprefix("do:") for e in self.events if e.startswith("do:")]


def make_registry(ledger: Ledger) -> Registry:
    """A registry of fake actions that write to ``ledger``."""

    async def undo_record(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        ledger.events.append(f"{'dry-undo' if ctx.dry_run else 'undo'}:{data['name']}")
        return ActionResult(changed=True, message=f"undid {data['name']}")

    @action(name="record", family="test", params=NameParams, risk=Risk.LOW, rbac=NO_RBAC, undo=undo_record)
    async def record(ctx: ActionContext, params: NameParams) -> ActionResult:
        """Append to the ledger; reversible."""
        ledger.contexts.append(ctx)
        ledger.events.append(f"do:{params.name}")
        return ActionResult(
            changed=True,
            message=f"recorded {params.name}",
            output={"name": params.name, "value": params.value},
            undo={"name": params.name},
        )

    @action(name="flaky", family="test", params=FlakyParams, risk=Risk.LOW, rbac=NO_RBAC)
    async def flaky(ctx: ActionContext, params: FlakyParams) -> ActionResult:
        """Fail ``failures`` times with ``category``, then succeed."""
        count = ledger.attempts.get(params.name, 0) + 1
        ledger.attempts[params.name] = count
        if count <= params.failures:
            raise ActionError(f"failure {count}", category=ErrorCategory(params.category))
        ledger.events.append(f"do:{params.name}")
        return ActionResult(changed=True, message="ok", output={"attempts": count})

    @action(name="gate", family="test", params=GateParams, risk=Risk.LOW, rbac=NO_RBAC)
    async def gate(ctx: ActionContext, params: GateParams) -> ActionResult:
        """Set ``release``, then wait until ``wait_for`` is set (proves concurrency without clocks)."""
        if params.release:
            ledger.gate(params.release).set()
        if params.wait_for:
            await ledger.gate(params.wait_for).wait()
        ledger.events.append(f"do:{params.name}")
        return ActionResult(changed=True, message="ok")

    @action(name="slow", family="test", params=SlowParams, risk=Risk.LOW, rbac=NO_RBAC)
    async def slow(ctx: ActionContext, params: SlowParams) -> ActionResult:
        """Sleep."""
        await asyncio.sleep(params.seconds)
        return ActionResult(changed=False, message="slept")

    registry = Registry()
    for spec in (record, flaky, gate, slow):
        registry.add(spec)
    return registry


class FakePromQL:
    """Answers queries from a scripted sequence of values (the last one repeats)."""

    def __init__(self, values: Iterable[float | None]) -> None:
        self.values = list(values)
        self.queries: list[str] = []

    async def query(self, *, query: str) -> float | None:
        self.queries.append(query)
        if len(self.values) > 1:
            return self.values.pop(0)
        return self.values[0]


class FakeTemplates:
    """Templates by name, for subflow steps."""

    def __init__(self, templates: Mapping[str, Mapping[str, Any]]) -> None:
        self.templates = {k: WorkflowTemplateSpec.model_validate(v) for k, v in templates.items()}

    async def load(self, *, name: str, kind: str, namespace: str | None) -> WorkflowTemplateSpec:
        if name not in self.templates:
            raise TemplateNotFound("not found", template=f"{kind} {name}")
        return self.templates[name]


def template(*steps: Mapping[str, Any], **extra: Any) -> WorkflowTemplateSpec:
    """A template spec from step dicts (camelCase, as in YAML)."""
    return WorkflowTemplateSpec.model_validate({"steps": list(steps), **extra})


def rec(name: str, **extra: Any) -> dict[str, Any]:
    """A ``record`` action step."""
    return {"name": name, "action": {"name": "record", "params": {"name": name}}, **extra}
