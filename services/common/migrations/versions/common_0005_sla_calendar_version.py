"""SLA clocks: the limit they run against and the calendar fingerprint of due_at

Existing clocks get NULL in both; the next sweep recomputes them (filling in due
dates of clocks started in a calendar gap, met ones too).

Revision ID: common_0005
"""
from alembic import op
import sqlalchemy as sa

revision = "common_0005"
down_revision = "common_0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sla_clock", sa.Column("limit_working_days", sa.Integer, nullable=True))
    op.add_column("sla_clock", sa.Column("calendar_version", sa.String(32), nullable=True))


def downgrade():
    with op.batch_alter_table("sla_clock") as batch:
        batch.drop_column("calendar_version")
        batch.drop_column("limit_working_days")
