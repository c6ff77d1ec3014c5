"""Running the alembic migrations on an open connection (at start-up, from :func:`open_database`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config over Suture's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Bring the schema to the newest revision; idempotent. Run with ``AsyncConnection.run_sync``."""
    command.upgrade(alembic_config(connection), "head")


def current_revision(connection: Connection) -> str | None:
    """The schema's revision (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision
