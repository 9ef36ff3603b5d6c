"""durable runs: leases, stop requests, resume counts and a journal keyed by (key, occurrence)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Unique indexes, not constraints: SQLite adds them without rebuilding `runs`, which other rows reference.
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stop_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resume_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("call_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("call_occurrence", sa.Integer(), nullable=True))
        batch_op.create_index("uq_runs_call", ["parent_run_id", "call_key", "call_occurrence"], unique=True)

    with op.batch_alter_table("run_agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resume_no", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("cached", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_constraint("uq_run_agents_run_id", type_="unique")
        batch_op.create_index("uq_run_agents_journal", ["run_id", "key", "occurrence"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("run_agents", schema=None) as batch_op:
        batch_op.drop_index("uq_run_agents_journal")
        batch_op.create_unique_constraint("uq_run_agents_run_id", ["run_id", "idx"])
        batch_op.drop_column("cached")
        batch_op.drop_column("attempts")
        batch_op.drop_column("resume_no")

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("uq_runs_call")
        batch_op.drop_column("call_occurrence")
        batch_op.drop_column("call_key")
        batch_op.drop_column("resume_count")
        batch_op.drop_column("stop_requested_at")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("owner")
