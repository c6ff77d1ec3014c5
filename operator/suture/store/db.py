"""Opening Suture's SQL database: a SQLite file by default, PostgreSQL by URL.

Users write plain URLs (``postgresql://user@host/db``, or a file path); the
async drivers (psycopg, aiosqlite) are chosen here, in one place.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

metadata = MetaData()


def async_url(location: str) -> str:
    """The SQLAlchemy async URL for ``location``: a PostgreSQL URL or a SQLite path (``~`` expanded)."""
    for prefix in ("postgresql://", "postgres://"):
        if location.startswith(prefix):
            return "postgresql+psycopg://" + location.removeprefix(prefix)
    if location.startswith(("postgresql+", "sqlite+")):
        return location
    path = os.path.abspath(os.path.expanduser(location.removeprefix("sqlite:///")))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    # WAL lets readers proceed while a run writes; FULL sync keeps every commit durable on power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@asynccontextmanager
async def open_database(*, location: str) -> AsyncIterator[AsyncEngine]:
    """An async engine for ``location`` with Suture's schema migrated to the newest revision; disposed on exit."""
    url = async_url(location)
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        from suture.store.migrate import upgrade

        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        yield engine
    finally:
        await engine.dispose()
