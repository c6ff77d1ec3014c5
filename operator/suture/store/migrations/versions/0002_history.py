"""History: runs, steps and outcomes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "suture_runs",
        sa.Column("run_id", sa.String(253), primary_key=True),
        sa.Column("alert_name", sa.String(253), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("annotations", sa.Text, nullable=False),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("template", sa.String(253), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("alert_name", "fingerprint", "template", "started_at"):
        op.create_index(f"ix_suture_runs_{column}", "suture_runs", [column])
    op.create_table(
        "suture_steps",
        sa.Column("run_id", sa.String(253), sa.ForeignKey("suture_runs.run_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("step", sa.String(253), primary_key=True),
        sa.Column("action", sa.String(253), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "suture_outcomes",
        sa.Column("run_id", sa.String(253), sa.ForeignKey("suture_runs.run_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("resolved_after_seconds", sa.Float, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
