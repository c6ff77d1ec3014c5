"""Template versions and attempts in the run history.

Each run records the generation and content hash of the template it ran, and
how many attempts it took (a retry from a failed step adds one). Existing
rows get an empty hash and one attempt.

Revision ID: 0003_controls
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_controls"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("suture_runs") as batch:  # batch: SQLite cannot add an indexed column in place
        batch.add_column(sa.Column("template_generation", sa.Integer, nullable=True))
        batch.add_column(sa.Column("template_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="1"))
    op.create_index("ix_suture_runs_template_hash", "suture_runs", ["template_hash"])


def downgrade() -> None:
    op.drop_index("ix_suture_runs_template_hash", table_name="suture_runs")
    with op.batch_alter_table("suture_runs") as batch:
        batch.drop_column("attempts")
        batch.drop_column("template_hash")
        batch.drop_column("template_generation")
