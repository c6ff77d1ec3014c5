"""Suture's SQL store (SQLAlchemy): SQLite in the data directory by default, PostgreSQL by URL.

Today it holds the effect journal that makes action calls exactly-once across
crashes (:class:`SqlJournal`).
"""

from suture.store.db import async_url, open_database
from suture.store.journal import SqlJournal

__all__ = ["SqlJournal", "async_url", "open_database"]
