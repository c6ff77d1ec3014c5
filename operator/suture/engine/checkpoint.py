"""Where runs are checkpointed: a SQLite file by default, PostgreSQL when given a URL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver


def is_postgres_url(location: str) -> bool:
    """True for ``postgres://`` and ``postgresql://`` URLs."""
    return location.startswith(("postgres://", "postgresql://"))


def _prepare(location: str) -> str:
    """The SQLite path with ``~`` expanded and its directory created."""
    path = os.path.expanduser(location)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


@asynccontextmanager
async def open_checkpointer(*, location: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """An async checkpointer for ``location`` (a file path or a PostgreSQL URL), tables created.

    The SQLite file's directory is created when missing. PostgreSQL is used
    through a small pool whose connections are checked before each use: a
    server restarted under the operator (its connections gone) costs a
    reconnect, not every later checkpoint. Autocommit, as ``setup()`` requires.
    """
    if is_postgres_url(location):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        async with AsyncConnectionPool(
            location,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            check=AsyncConnectionPool.check_connection,
            open=False,
        ) as pool:
            pg_saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await pg_saver.setup()
            yield pg_saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = _prepare(location)
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        await saver.setup()
        yield saver
