"""Suture's SQL store (SQLAlchemy): SQLite in the data directory by default, PostgreSQL by URL.

It holds the effect journal that makes action calls exactly-once across
crashes (:class:`SqlJournal`) and the remediation history (:class:`History`).
The schema is created and upgraded by alembic migrations at start-up.
"""

from suture.store.db import async_url, open_database
from suture.store.history import (
    History,
    PriorStart,
    RecentStarts,
    RunRecord,
    StepRecord,
    StepTiming,
    TemplateRecord,
    TemplateStats,
    keeps_failing,
    wilson_interval,
)
from suture.store.journal import SqlJournal

__all__ = [
    "History",
    "PriorStart",
    "RecentStarts",
    "RunRecord",
    "SqlJournal",
    "StepRecord",
    "StepTiming",
    "TemplateRecord",
    "TemplateStats",
    "async_url",
    "keeps_failing",
    "open_database",
    "wilson_interval",
]
