"""common tables: parked (poison) events

Revision ID: common_0004
"""
from alembic import op
import sqlalchemy as sa

revision = "common_0004"
down_revision = "common_0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "parked_event",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("parked_at", sa.DateTime, nullable=False),
        sa.Column("replayed_at", sa.DateTime, nullable=True),
    )


def downgrade():
    op.drop_table("parked_event")
