"""feedback: complaint numbers past the day's 9,999th (TS-YYYYMMDD-NNNNN) fit their column

Revision ID: feedback_0003
"""
from alembic import op
import sqlalchemy as sa


revision = 'feedback_0003'
down_revision = 'feedback_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.alter_column('number', existing_type=sa.String(length=16), type_=sa.String(length=20),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.alter_column('number', existing_type=sa.String(length=20), type_=sa.String(length=16),
                              existing_nullable=False)
