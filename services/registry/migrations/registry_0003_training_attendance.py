"""registry: a training may name the qualification attending grants; sign-ups record attendance
(training.attended, consumed by booking's qualification gate)

Revision ID: registry_0003
"""
from alembic import op
import sqlalchemy as sa

revision = "registry_0003"
down_revision = "registry_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("training_event") as batch:
        batch.add_column(sa.Column("qualification_code", sa.String(64), nullable=True))
    with op.batch_alter_table("training_signup") as batch:
        batch.add_column(sa.Column("attended_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("attended_by", sa.String(64), nullable=True))


def downgrade():
    with op.batch_alter_table("training_signup") as batch:
        batch.drop_column("attended_by")
        batch.drop_column("attended_at")
    with op.batch_alter_table("training_event") as batch:
        batch.drop_column("qualification_code")
