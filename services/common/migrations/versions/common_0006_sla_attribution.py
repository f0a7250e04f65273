"""SLA clocks: the institution and window a clock's verdict is attributed to

Announced with `sla.clock_closed` (services.common.sla_events) so that feedback's
quarterly statistics count the on-time rate per institution and window. Existing
clocks get NULL (counted for the platform only).

Revision ID: common_0006
"""
from alembic import op
import sqlalchemy as sa

revision = "common_0006"
down_revision = "common_0005"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sla_clock", sa.Column("institution_id", sa.String(64), nullable=True))
    op.add_column("sla_clock", sa.Column("window_id", sa.String(64), nullable=True))


def downgrade():
    with op.batch_alter_table("sla_clock") as batch:
        batch.drop_column("window_id")
        batch.drop_column("institution_id")
