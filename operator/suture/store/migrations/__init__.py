"""Alembic migrations of Suture's SQL schema, run at start-up by :func:`suture.store.db.open_database`."""
