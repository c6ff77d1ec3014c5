"""The run state LangGraph checkpoints: everything needed to resume a run.

A run's checkpoint holds the template it runs, the alert, target and variables,
every step's record and the journal of completed reversible actions, so a
restarted engine resumes from the checkpoint alone. All values are plain JSON
(strings, numbers, lists, dicts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

from suture.api import TERMINAL_PHASES, StepStatus

# Nodes the engine adds around the template's own steps. Step names are DNS
# labels, so they can never collide with these.
APPROVAL_GATE = "__approval__"
ROLLBACK = "__rollback__"
FINISH = "__finish__"

RUNNING = "Running"
WAITING_APPROVAL = "WaitingApproval"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
SKIPPED = "Skipped"
ROLLED_BACK = "RolledBack"
CANCELLED = "Cancelled"
PAUSED = "Paused"  # stopped at a step boundary on request; continues where it stopped (never terminal)
TERMINAL = TERMINAL_PHASES  # one list of the phases a run never leaves, in suture.api


def merge_records(left: dict[str, dict[str, Any]], right: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Reducer of ``steps``: a node returns only the records it changed."""
    return {**left, **right}


class RunState(TypedDict, total=False):
    """The checkpointed state of one run."""

    # Set once at start: id, template (camelCase spec), alert, target, vars,
    # dryRun, namespace (allowed namespace or None), remediation, startedAt (epoch s).
    run: dict[str, Any]
    steps: Annotated[dict[str, dict[str, Any]], merge_records]
    # Completed reversible actions in completion order:
    # {"label": display name, "step": step name, "action": action name, "undo": data}.
    journal: list[dict[str, Any]]
    phase: str
    message: str
    route: str  # the node to go to next, decided by the node that just ran
    final_phase: str  # the phase a rollback ends in (RolledBack, or Cancelled)
    undone: list[str]
    approval: dict[str, Any]
    # The node a paused run continues at, or a failed run is retried from ("" when neither applies).
    resume_at: str
    attempt: int  # 1 for the first attempt, one more per retry of a failed run


def now_iso() -> str:
    """The current time, RFC 3339 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def step_record(name: str, phase: str, **fields: Any) -> dict[str, Any]:
    """A fresh camelCase step record: ``suture.api.StepStatus``'s own fields and defaults, plus ``fields``."""
    record: dict[str, Any] = StepStatus(name=name).model_dump(by_alias=True)
    record.update(phase=phase, **fields)
    return record


def cel_context(state: RunState) -> dict[str, Any]:
    """The expression context of a run: alert, target, vars, steps, run (item is None)."""
    run = state["run"]
    return {
        "alert": run.get("alert") or {},
        "target": run.get("target") or {},
        "vars": run.get("vars") or {},
        "steps": {
            name: {"output": rec.get("output") or {}, "phase": rec.get("phase", "")}
            for name, rec in state.get("steps", {}).items()
        },
        "run": {"id": run["id"], "dryRun": bool(run.get("dryRun")), "namespace": run.get("namespace")},
        "item": None,
    }
