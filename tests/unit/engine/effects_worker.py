"""An engine process for the crash-window tests: ``effects_worker.py DIR TEMPLATE start|resume``.

The "world" is a SQLite file of counters in DIR; every write to it is also
appended to an audit table, so the parent can see exactly what was applied and
in which order. The ``add`` action is a *relative* change (add ``amount`` to a
counter) written the way the exactly-once contract asks: it recalls the
counter's value before its first attempt, records its undo, then writes an
absolute value derived from that recall.

``SUTURE_TEST_CRASH_AFTER=<counter>`` makes the process die (``os._exit``,
like SIGKILL: no cleanup, no checkpoint) right after the write to that counter
reaches the world and before the action returns: the crash window between an
effect and its checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from suture.actions import ActionContext, ActionError, ActionResult, ErrorCategory, Registry, Risk, action
from suture.api import WorkflowTemplateSpec
from suture.engine import ApprovalDecision, Engine, RunRequest, StepProgress, open_checkpointer
from suture.store import SqlJournal, open_database

RUN_ID = "crash-window-1"

TEMPLATES: dict[str, dict[str, Any]] = {
    # A relative change, then a failure that rolls the run back.
    "relative": {
        "steps": [
            {"name": "grow", "action": {"name": "add", "params": {"counter": "replicas", "amount": 5}}},
            {"name": "boom", "onFailure": "rollback", "action": {"name": "fail", "params": {}}},
        ]
    },
    # A foreach whose items each change their own counter; then a failure that rolls back.
    "foreach": {
        "steps": [
            {
                "name": "each",
                "foreach": {"items": "${{ ['a', 'b', 'c'] }}", "step": "bump"},
            },
            {"name": "bump", "action": {"name": "add", "params": {"counter": "${{ item }}", "amount": 1}}},
            {"name": "boom", "onFailure": "rollback", "action": {"name": "fail", "params": {}}},
        ]
    },
}


class AddParams(BaseModel):
    counter: str
    amount: int


class NoParams(BaseModel):
    pass


def _world(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER)")
    db.execute("CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, name TEXT, value INTEGER, why TEXT)")
    return db


def read_counter(world: Path, name: str) -> int:
    """The counter's value (10 when never written)."""
    with _world(world) as db:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 10


def write_counter(world: Path, name: str, value: int, why: str) -> None:
    """Set a counter and audit the write; committed when this returns."""
    with _world(world) as db:
        db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value))
        db.execute("INSERT INTO audit (name, value, why) VALUES (?, ?, ?)", (name, value, why))


def audit(world: Path) -> list[tuple[str, int, str]]:
    """Every write to the world, in order: (counter, value written, do|undo)."""
    with _world(world) as db:
        return [(str(n), int(v), str(w)) for n, v, w in db.execute("SELECT name, value, why FROM audit ORDER BY seq")]


def registry(world: Path) -> Registry:
    async def undo_add(ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        write_counter(world, str(data["counter"]), int(data["value"]), "undo")
        return ActionResult(changed=True, message=f"restored {data['counter']}")

    @action(name="add", family="test", params=AddParams, risk=Risk.LOW, rbac=(), undo=undo_add)
    async def add(ctx: ActionContext, params: AddParams) -> ActionResult:
        """Add to a counter (relative), exactly once per call."""

        async def now() -> int:
            return read_counter(world, params.counter)

        before = await ctx.recall("value", now)
        undo = {"counter": params.counter, "value": before}
        await ctx.intend(undo)
        write_counter(world, params.counter, before + params.amount, "do")
        if os.environ.get("SUTURE_TEST_CRASH_AFTER") == params.counter:
            print(f"CRASH after {params.counter}", flush=True)
            os._exit(9)
        return ActionResult(changed=True, message="added", output={"value": before + params.amount}, undo=undo)

    @action(name="fail", family="test", params=NoParams, risk=Risk.LOW, rbac=())
    async def fail(ctx: ActionContext, params: NoParams) -> ActionResult:
        """Always fail."""
        raise ActionError("this step always fails", category=ErrorCategory.FAILED)

    reg = Registry()
    reg.add(add)
    reg.add(fail)
    return reg


class PrintSink:
    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        print(f"RUN {phase} {message}", flush=True)

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        print(f"STEP {step.name} {step.phase}", flush=True)

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        print(f"APPROVAL {decision.decision}", flush=True)


async def main(directory: str, template: str, mode: str) -> None:
    base = Path(directory)
    async with (
        open_checkpointer(location=str(base / "checkpoints.sqlite")) as saver,
        open_database(location=str(base / "suture.sqlite")) as database,
    ):
        engine = Engine(
            registry=registry(base / "world.sqlite"),
            kube=None,  # type: ignore[arg-type]
            checkpointer=saver,
            sink=PrintSink(),
            journal=SqlJournal(database),
        )
        if mode == "start":
            spec = WorkflowTemplateSpec.model_validate(TEMPLATES[template])
            outcome = await engine.start(request=RunRequest(run_id=RUN_ID, template=spec))
        else:
            outcome = await engine.resume(run_id=RUN_ID)
        print(f"OUTCOME {outcome.phase}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
