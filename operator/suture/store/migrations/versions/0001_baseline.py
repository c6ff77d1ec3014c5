"""Baseline: the effect journal (``suture_effects``) exactly as ``metadata.create_all`` made it.

Databases created before migrations existed already hold this table; the
baseline then creates nothing and only stamps the version.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("suture_effects"):
        return
    op.create_table(
        "suture_effects",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.UniqueConstraint("run_id", "key", name="suture_effects_run_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_suture_effects_run_id", "suture_effects", ["run_id"])
