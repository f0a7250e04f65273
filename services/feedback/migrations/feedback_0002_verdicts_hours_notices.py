"""feedback: clock_verdict (sla.clock_closed of every service), instrument_use (booking.completed),
notification (escalations), service_reference and institution_name.status (what a complaint may name)

Revision ID: feedback_0002
"""
from alembic import op
import sqlalchemy as sa


revision = 'feedback_0002'
down_revision = 'feedback_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('institution_name') as batch:
        batch.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='approved'))
    op.create_table('clock_verdict',
    sa.Column('clock_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('subject_type', sa.String(length=50), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('stopped_at', sa.DateTime(), nullable=False),
    sa.Column('limit_working_days', sa.Integer(), nullable=True),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('window_id', sa.String(length=64), nullable=True),
    sa.Column('judged_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('clock_id')
    )
    op.create_index('ix_clock_verdict_stopped', 'clock_verdict', ['stopped_at'])
    op.create_index('ix_clock_verdict_institution', 'clock_verdict', ['institution_id', 'stopped_at'])
    op.create_table('instrument_use',
    sa.Column('booking_id', sa.String(length=64), nullable=False),
    sa.Column('instrument_id', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('booked_minutes', sa.Integer(), nullable=False),
    sa.Column('used_minutes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('booking_id')
    )
    op.create_index('ix_instrument_use_starts', 'instrument_use', ['starts_at'])
    op.create_table('service_reference',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('ref_id', sa.String(length=64), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=True),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('kind', 'ref_id')
    )
    op.create_table('notification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('recipient_id', sa.String(length=64), nullable=True),
    sa.Column('recipient_role', sa.String(length=30), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notification_role', 'notification', ['recipient_role', 'created_at'])
    op.create_index('ix_notification_user', 'notification', ['recipient_id', 'created_at'])


def downgrade():
    op.drop_table('notification')
    op.drop_table('service_reference')
    op.drop_table('instrument_use')
    op.drop_table('clock_verdict')
    with op.batch_alter_table('institution_name') as batch:
        batch.drop_column('status')
