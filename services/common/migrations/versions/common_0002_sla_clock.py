"""common tables: SLA clocks

Revision ID: common_0002
"""
from alembic import op
import sqlalchemy as sa

revision = "common_0002"
down_revision = "common_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sla_clock",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("subject_type", sa.String(50), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=True),
        sa.Column("calendar_gap", sa.Boolean, nullable=False),
        sa.Column("paused_at", sa.DateTime, nullable=True),
        sa.Column("stopped_at", sa.DateTime, nullable=True),
        sa.Column("overdue", sa.Boolean, nullable=False),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
    )
    op.create_index("ix_sla_clock_state_due", "sla_clock", ["state", "due_at"])
    op.create_index("ix_sla_clock_subject", "sla_clock", ["subject_type", "subject_id"])


def downgrade():
    op.drop_index("ix_sla_clock_subject", "sla_clock")
    op.drop_index("ix_sla_clock_state_due", "sla_clock")
    op.drop_table("sla_clock")
