"""The hardest crash: the process dies after an action's write and before the step's checkpoint.

Each test kills an engine process (``os._exit`` right after the write reaches
the world, like SIGKILL), resumes the run in a new process, lets it fail and
roll back, and reads the world's audit of writes: every change applied once,
and the rollback restores the original state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.engine.effects_worker import audit, read_counter

WORKER = Path(__file__).with_name("effects_worker.py")
REPO = Path(__file__).resolve().parents[3]


def _run(tmp: Path, template: str, mode: str, crash_after: str = "") -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if crash_after:
        env["SUTURE_TEST_CRASH_AFTER"] = crash_after
    else:
        env.pop("SUTURE_TEST_CRASH_AFTER", None)
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(tmp), template, mode], capture_output=True, text=True, env=env, timeout=60
    )
    if crash_after:
        assert proc.returncode == 9, (proc.stdout, proc.stderr)
        assert f"CRASH after {crash_after}" in proc.stdout
    else:
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


@pytest.mark.timeout(120)
def test_a_relative_change_interrupted_after_its_write_is_applied_once_and_rolled_back(tmp_path: Path) -> None:
    _run(tmp_path, "relative", "start", crash_after="replicas")
    assert audit(tmp_path / "world.sqlite") == [("replicas", 15, "do")]  # the write landed, no checkpoint did

    out = _run(tmp_path, "relative", "resume")

    assert "OUTCOME RolledBack" in out, out
    # The resumed step recomputed 10 + 5 from the recorded pre-state (not 15 + 5),
    # and the rollback restored the value from before the first attempt.
    writes = audit(tmp_path / "world.sqlite")
    assert writes == [("replicas", 15, "do"), ("replicas", 15, "do"), ("replicas", 10, "undo")]
    assert read_counter(tmp_path / "world.sqlite", "replicas") == 10


@pytest.mark.timeout(120)
def test_a_foreach_interrupted_mid_item_resumes_without_reapplying_done_items(tmp_path: Path) -> None:
    _run(tmp_path, "foreach", "start", crash_after="b")
    assert audit(tmp_path / "world.sqlite") == [("a", 11, "do"), ("b", 11, "do")]

    out = _run(tmp_path, "foreach", "resume")

    assert "OUTCOME RolledBack" in out, out
    writes = audit(tmp_path / "world.sqlite")
    do = [(name, value) for name, value, why in writes if why == "do"]
    # Item a finished before the crash: its recorded result is replayed, not re-applied.
    # Item b's write is repeated with the same absolute value; c runs once.
    assert do == [("a", 11), ("b", 11), ("b", 11), ("c", 11)]
    undo = [(name, value) for name, value, why in writes if why == "undo"]
    assert sorted(undo) == [("a", 10), ("b", 10), ("c", 10)]
    assert undo[0] == ("c", 10)  # newest first
    for name in "abc":
        assert read_counter(tmp_path / "world.sqlite", name) == 10


@pytest.mark.timeout(120)
def test_an_interrupted_change_is_undone_even_when_its_step_never_finishes(tmp_path: Path) -> None:
    # The run is cancelled with rollback right after the crash, before the step re-runs:
    # only the intent the action recorded before writing knows about the change.
    _run(tmp_path, "relative", "start", crash_after="replicas")
    out = subprocess.run(
        [sys.executable, "-c", _CANCEL.format(tmp=str(tmp_path))],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO}"},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "OUTCOME Cancelled" in out.stdout, out.stdout
    assert audit(tmp_path / "world.sqlite") == [("replicas", 15, "do"), ("replicas", 10, "undo")]


_CANCEL = """
import asyncio
from pathlib import Path
from suture.engine import Engine, open_checkpointer
from suture.store import SqlJournal, open_database
from tests.unit.engine.effects_worker import RUN_ID, PrintSink, registry

async def main():
    base = Path({tmp!r})
    async with open_checkpointer(location=str(base / "checkpoints.sqlite")) as saver, \\
            open_database(location=str(base / "suture.sqlite")) as db:
        engine = Engine(registry=registry(base / "world.sqlite"), kube=None, checkpointer=saver,
                        sink=PrintSink(), journal=SqlJournal(db))
        await engine.cancel(run_id=RUN_ID, rollback=True)
        outcome = await engine.resume(run_id=RUN_ID)
        print("OUTCOME", outcome.phase, flush=True)

asyncio.run(main())
"""
