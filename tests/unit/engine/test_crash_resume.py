"""kill -9 of an engine process in the middle of a run, then a new process finishes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("crash_worker.py")


def _counts(ledger: Path) -> dict[str, int]:
    with sqlite3.connect(ledger) as db:
        return dict(db.execute("SELECT step, COUNT(*) FROM applied GROUP BY step").fetchall())


def _worker(checkpoints: Path, ledger: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(checkpoints), str(ledger), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(120)
def test_killed_run_resumes_without_reapplying_completed_steps(tmp_path: Path) -> None:
    checkpoints, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger.sqlite"
    first = _worker(checkpoints, ledger, "start")
    assert first.stdout is not None
    seen: list[str] = []
    for line in first.stdout:
        seen.append(line.strip())
        if line.strip() == "STEP pause Running":
            os.kill(first.pid, signal.SIGKILL)  # mid-wait: steps one and two are done and checkpointed
            break
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL, (seen, first.stderr.read() if first.stderr else "")
    assert _counts(ledger) == {"one": 1, "two": 1}

    second = _worker(checkpoints, ledger, "resume")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "OUTCOME crash-1 Succeeded" in out.splitlines(), out
    assert "STEP one Running" not in out  # completed steps are not run again
    assert "STEP pause Running" in out  # the in-flight step re-runs
    assert _counts(ledger) == {"one": 1, "two": 1, "three": 1}
