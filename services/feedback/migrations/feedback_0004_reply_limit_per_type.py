"""feedback: a complaint type's reply limit in working days, set by operators in its supervision rule

Revision ID: feedback_0004
"""
from alembic import op
import sqlalchemy as sa


revision = 'feedback_0004'
down_revision = 'feedback_0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('supervision_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_working_days', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('supervision_rule', schema=None) as batch_op:
        batch_op.drop_column('reply_working_days')
