"""Runs are recorded when they start: where they ran, on which object, and indexes for the safety rules.

Cooldowns and hourly budgets count started runs from this table instead of
listing Remediations, so each run row now carries the Remediation's namespace
and name and the target's UID (what the API server assigned, so a replaced
object with the same name is another target). Rows written before this
revision get empty values: they still count towards a ClusterWorkflowTemplate's
budget but not towards a namespaced template's or a target's cooldown, which
matters only for the hour after the upgrade.

Revision ID: 0004_receiver_fast
Revises: 0003_controls
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_receiver_fast"
down_revision = "0003_controls"


def upgrade() -> None:
    with op.batch_alter_table("suture_runs") as batch:  # batch: SQLite cannot add columns with indexes in place
        batch.add_column(sa.Column("namespace", sa.String(253), nullable=False, server_default=""))
        batch.add_column(sa.Column("remediation", sa.String(253), nullable=False, server_default=""))
        batch.add_column(sa.Column("target_uid", sa.String(64), nullable=False, server_default=""))
    # What the two rules ask: a template's starts in the last hour, and the last start on one target.
    op.create_index("ix_suture_runs_template_started", "suture_runs", ["template", "started_at"])
    op.create_index("ix_suture_runs_target_uid_started", "suture_runs", ["target_uid", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_suture_runs_target_uid_started", table_name="suture_runs")
    op.drop_index("ix_suture_runs_template_started", table_name="suture_runs")
    with op.batch_alter_table("suture_runs") as batch:
        batch.drop_column("target_uid")
        batch.drop_column("remediation")
        batch.drop_column("namespace")
