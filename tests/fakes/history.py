"""A real SQL history for unit tests (SQLite in a temporary directory) and a way to seed started runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suture.store import History, RunRecord, open_database


@asynccontextmanager
async def sqlite_history(directory: Path | None = None) -> AsyncIterator[History]:
    """A migrated, empty history in ``directory``, or in memory (one shared connection) without one."""
    location = str(directory / "history.sqlite") if directory is not None else "sqlite+aiosqlite://"
    async with open_database(location=location) as engine:
        yield History(engine)


async def started(
    history: History,
    name: str,
    *,
    minutes_ago: float,
    now: datetime | None = None,
    template: str = "restart",
    namespace: str = "shop",
    target_uid: str = "",
    phase: str = "Succeeded",
) -> None:
    """Record that Remediation ``name`` (in ``namespace``) started ``template`` ``minutes_ago``."""
    await history.record_start(
        RunRecord(
            run_id=f"uid-{namespace}-{name}",
            alert_name="KubePodCrashLooping",
            fingerprint=f"fp-{name}",
            template=template,
            phase=phase,
            started_at=(now or datetime.now(UTC)) - timedelta(minutes=minutes_ago),
            namespace=namespace,
            remediation=name,
            target_uid=target_uid,
        )
    )
