"""PostgreSQL restarted under a live engine: a run waiting on approval, checkpointed (and its effect journal
kept) in PostgreSQL, finishes once the server is back; no step is applied twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from suture.engine import Engine, RecordingSink, RunRequest, open_checkpointer
from suture.store import SqlJournal, open_database
from tests.conftest import PG_BIN, free_port
from tests.unit.engine.fakes import Ledger, make_registry, rec, template


@pytest.fixture
def restartable_postgres() -> Iterator[tuple[str, Callable[[], None]]]:
    """A PostgreSQL 15 server of this test alone, and a function that restarts it (fast shutdown)."""
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="suture-pg-restart-"))
    if as_user:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"]
    subprocess.run([*as_user, *initdb], check=True, capture_output=True)
    ctl = [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
    options = ["-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {base}"]
    subprocess.run([*ctl, *options, "start"], check=True, capture_output=True)

    def restart() -> None:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=True, capture_output=True)
        subprocess.run([*ctl, *options, "start"], check=True, capture_output=True)

    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", restart
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


async def test_a_waiting_run_finishes_after_postgres_restarts_under_the_engine(
    restartable_postgres: tuple[str, Callable[[], None]],
) -> None:
    url, restart = restartable_postgres
    ledger = Ledger()
    spec = template(rec("before"), {"name": "ask", "approval": {"message": "go on?"}}, rec("after"))
    async with open_checkpointer(location=url) as saver, open_database(location=url) as database:
        engine = Engine(
            registry=make_registry(ledger),
            kube=None,  # type: ignore[arg-type]
            checkpointer=saver,
            sink=RecordingSink(),
            journal=SqlJournal(database),
        )
        outcome = await engine.start(request=RunRequest(run_id="pg-restart-1", template=spec))
        assert outcome.phase == "WaitingApproval"

        restart()  # every pooled connection of this process is now dead

        done = await engine.approve(run_id="pg-restart-1", decision="Approved", by="alice")
        await engine.aclose()
    assert done.phase == "Succeeded", done.message
    assert ledger.done() == ["before", "after"]
