"""booking: qualifications by code from training attendance with their expiry rule (instrument
columns; grant source, training, last use), usage records (actual start/stop, walk-ins) and in-app
notifications (waitlist offers), local copies of windows' service items and of the demands and cases
appointments link to (from registry and matching events)

Revision ID: booking_0002
"""
from alembic import op
import sqlalchemy as sa

revision = 'booking_0002'
down_revision = 'booking_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instrument', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qualification_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('qualification_expiry', sa.String(length=20), nullable=False,
                                      server_default='fixed_months'))
        batch_op.add_column(sa.Column('qualification_months', sa.Integer(), nullable=False, server_default='12'))
        batch_op.add_column(sa.Column('qualification_idle_days', sa.Integer(), nullable=False,
                                      server_default='180'))
        batch_op.create_index(batch_op.f('ix_instrument_qualification_code'), ['qualification_code'], unique=False)
    with op.batch_alter_table('user_qualification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=20), nullable=False, server_default='staff'))
        batch_op.add_column(sa.Column('training_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(), nullable=True))
    op.create_table('known_attendance',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('training_id', sa.String(length=36), nullable=False),
    sa.Column('qualification_code', sa.String(length=64), nullable=False),
    sa.Column('attended_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'training_id')
    )
    with op.batch_alter_table('known_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_known_attendance_qualification_code'), ['qualification_code'],
                              unique=False)
    op.create_table('usage_record',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('booking_id', sa.String(length=36), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('stopped_at', sa.DateTime(), nullable=True),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('stopped_by', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('booking_id')
    )
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_record_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_record_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index('ix_usage_record_instrument_time', ['instrument_id', 'started_at'], unique=False)
    op.create_table('booking_notification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('booking_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_notification_user_id'), ['user_id'], unique=False)
    op.create_table('known_window',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('services', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('known_link',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('enterprise_user_id', sa.String(length=64), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'id')
    )


def downgrade():
    op.drop_table('known_link')
    op.drop_table('known_window')
    op.drop_table('booking_notification')
    op.drop_table('usage_record')
    op.drop_table('known_attendance')
    with op.batch_alter_table('user_qualification', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('training_id')
        batch_op.drop_column('source')
    with op.batch_alter_table('instrument', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_qualification_code'))
        batch_op.drop_column('qualification_idle_days')
        batch_op.drop_column('qualification_months')
        batch_op.drop_column('qualification_expiry')
        batch_op.drop_column('qualification_code')
