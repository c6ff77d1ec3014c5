"""A separate engine process for the crash test: ``crash_worker.py CHECKPOINTS LEDGER start|resume``.

Its only action, ``bump``, inserts a row into the LEDGER SQLite table, so the
parent can count how often each step really applied. Progress goes to stdout,
one line per step transition, so the parent knows when to kill it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from suture.actions import ActionContext, ActionResult, Registry, Risk, action
from suture.api import WorkflowTemplateSpec
from suture.engine import ApprovalDecision, Engine, RunRequest, StepProgress, open_checkpointer

TEMPLATE = {
    "steps": [
        {"name": "one", "action": {"name": "bump", "params": {"name": "one"}}},
        {"name": "two", "action": {"name": "bump", "params": {"name": "two"}}},
        {"name": "pause", "wait": {"duration": "1500ms"}},
        {"name": "three", "action": {"name": "bump", "params": {"name": "three"}}},
    ]
}


class BumpParams(BaseModel):
    name: str


def registry(ledger: str) -> Registry:
    @action(name="bump", family="test", params=BumpParams, risk=Risk.LOW, rbac=())
    async def bump(ctx: ActionContext, params: BumpParams) -> ActionResult:
        """Count one application of a step."""
        with sqlite3.connect(ledger) as db:
            db.execute("CREATE TABLE IF NOT EXISTS applied (step TEXT)")
            db.execute("INSERT INTO applied VALUES (?)", (params.name,))
        return ActionResult(changed=True, message=f"bumped {params.name}")

    reg = Registry()
    reg.add(bump)
    return reg


class PrintSink:
    async def run_phase(self, *, run_id: str, phase: str, message: str, undone: Sequence[str]) -> None:
        print(f"RUN {phase}", flush=True)

    async def step(self, *, run_id: str, step: StepProgress) -> None:
        print(f"STEP {step.name} {step.phase}", flush=True)

    async def approval(self, *, run_id: str, decision: ApprovalDecision) -> None:
        print(f"APPROVAL {decision.decision}", flush=True)


async def main(checkpoints: str, ledger: str, mode: str) -> None:
    async with open_checkpointer(location=checkpoints) as saver:
        engine = Engine(registry=registry(ledger), kube=None, checkpointer=saver, sink=PrintSink())  # type: ignore[arg-type]
        if mode == "start":
            spec = WorkflowTemplateSpec.model_validate(TEMPLATE)
            outcomes: Any = [await engine.start(request=RunRequest(run_id="crash-1", template=spec))]
        else:
            outcomes = await engine.resume_all()
        for outcome in outcomes:
            print(f"OUTCOME {outcome.run_id} {outcome.phase}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
