"""booking: a suspended user's appeal and the operators' decision on the suspension row

Revision ID: booking_0003
"""
from alembic import op
import sqlalchemy as sa

revision = 'booking_0003'
down_revision = 'booking_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('suspension', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('appealed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('decision_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decided_by', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('suspension', schema=None) as batch_op:
        for column in ('decided_by', 'decided_at', 'decision_reason', 'decision', 'appealed_at', 'appeal_reason'):
            batch_op.drop_column(column)
