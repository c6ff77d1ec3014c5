"""The effect journal in SQL: SQLite in the data directory by default, PostgreSQL by URL.

One table, ``suture_effects``: (run id, key) -> JSON value, with an ordering
column so entries come back in the order their keys were first written. Every
``put`` commits before it returns; SQLite's default synchronous mode makes that
commit durable, which is the whole point (see :mod:`suture.engine.journal`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from suture.store.db import metadata

effects = Table(
    "suture_effects",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(128), nullable=False, index=True),
    Column("key", String(512), nullable=False),
    Column("value", Text, nullable=False),
    # One row per (run, key): the first write fixes the row's place in the order, later writes replace the value.
    UniqueConstraint("run_id", "key", name="suture_effects_run_key"),
    sqlite_autoincrement=True,
)


class SqlJournal:
    """An :class:`~suture.engine.journal.EffectJournal` over SQLAlchemy (async)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, *, run_id: str, key: str) -> dict[str, Any] | None:
        """The value under ``key`` for ``run_id``, or None."""
        query = select(effects.c.value).where(effects.c.run_id == run_id, effects.c.key == key)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    async def put(self, *, run_id: str, key: str, value: Mapping[str, Any]) -> None:
        """Insert or replace; committed (durable) when this returns."""
        text = json.dumps(dict(value), sort_keys=True, default=str)
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(effects).values(run_id=run_id, key=key, value=text)
        statement = statement.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": text})
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def entries(self, *, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every (key, value) of ``run_id`` in first-write order."""
        query = select(effects.c.key, effects.c.value).where(effects.c.run_id == run_id).order_by(effects.c.seq)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(str(key), json.loads(str(value))) for key, value in rows]

    async def forget(self, *, run_id: str) -> None:
        """Delete the run's rows."""
        async with self._engine.begin() as conn:
            await conn.execute(effects.delete().where(effects.c.run_id == run_id))
