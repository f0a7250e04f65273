"""booking tables: known_institution, instrument, instrument_price, blackout, booking, slot_claim, no_show,
suspension, user_qualification, appointment_slot, appointment, appointment_day_claim, waitlist_entry,
calendar_feed (generated from models.py on the day it was written; a migration is history: never edit
it to follow the models, add the next one)

Revision ID: booking_0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'booking_0001'
down_revision = None
branch_labels = ('booking',)
depends_on = None


def upgrade():
    op.create_table('appointment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('slot_id', sa.String(length=36), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('service_item', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('demand_id', sa.String(length=36), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('handler_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')", name='ck_appointment_status'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_window_id'), ['window_id'], unique=False)

    op.create_table('appointment_day_claim',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('appointment_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'window_id', 'day')
    )
    op.create_table('appointment_slot',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('taken', sa.Integer(), nullable=False),
    sa.Column('service_items', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('taken >= 0 AND taken <= capacity', name='ck_slot_taken'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appointment_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_slot_window_id'), ['window_id'], unique=False)
        batch_op.create_index('ix_appointment_slot_window_time', ['window_id', 'starts_at'], unique=True)

    op.create_table('blackout',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('maintenance', 'calibration', 'other')", name='ck_blackout_kind'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('blackout', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blackout_instrument_id'), ['instrument_id'], unique=False)

    op.create_table('booking',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('price_group', sa.String(length=20), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('approval_due_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason_code', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('checkin_code', sa.String(length=12), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('actual_start', sa.DateTime(), nullable=True),
    sa.Column('actual_end', sa.DateTime(), nullable=True),
    sa.Column('fee', sa.Numeric(precision=13, scale=2), nullable=True),
    sa.Column('fee_reason', sa.String(length=40), nullable=True),
    sa.Column('cancelled_by', sa.String(length=20), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('payment_source', sa.String(length=30), nullable=True),
    sa.Column('voucher_number', sa.String(length=64), nullable=True),
    sa.Column('paid_amount', sa.Numeric(precision=13, scale=2), nullable=True),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.Column('handler_id', sa.String(length=64), nullable=True),
    sa.Column('series_id', sa.String(length=36), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("mode IN ('self', 'assisted')", name='ck_booking_mode'),
    sa.CheckConstraint("status IN ('requested', 'confirmed', 'checked_in', 'completed', 'settled', 'rejected', 'expired', 'cancelled', 'no_show')", name='ck_booking_status'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index('ix_booking_instrument_time', ['instrument_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_user_id'), ['user_id'], unique=False)

    op.create_table('calendar_feed',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('token')
    )
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feed_user_id'), ['user_id'], unique=False)

    op.create_table('instrument',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('maker', sa.String(length=100), nullable=False),
    sa.Column('specifications', sa.Text(), nullable=False),
    sa.Column('capability_ids', sa.Text(), nullable=False),
    sa.Column('standards', sa.Text(), nullable=False),
    sa.Column('station_window_id', sa.String(length=64), nullable=True),
    sa.Column('park', sa.String(length=100), nullable=True),
    sa.Column('location', sa.String(length=300), nullable=False),
    sa.Column('photo_url', sa.String(length=500), nullable=True),
    sa.Column('notice_working_days', sa.Integer(), nullable=False),
    sa.Column('horizon_working_days', sa.Integer(), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('min_minutes', sa.Integer(), nullable=False),
    sa.Column('max_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_minutes', sa.Integer(), nullable=False),
    sa.Column('weekly_limit_minutes', sa.Integer(), nullable=True),
    sa.Column('approval_required', sa.Boolean(), nullable=False),
    sa.Column('qualification_required', sa.Boolean(), nullable=False),
    sa.Column('operator_assisted', sa.Boolean(), nullable=False),
    sa.Column('opening_hours', sa.Text(), nullable=False),
    sa.Column('calibration_due', sa.Date(), nullable=True),
    sa.Column('minimum_charge', sa.Numeric(precision=13, scale=2), nullable=False),
    sa.Column('cancel_deadline_hours', sa.Integer(), nullable=False),
    sa.Column('no_show_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('withdrawn_reason', sa.String(length=30), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('published', 'withdrawn')", name='ck_instrument_status'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instrument', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_institution_id'), ['institution_id'], unique=False)

    op.create_table('instrument_price',
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('price_group', sa.String(length=20), nullable=False),
    sa.Column('hourly_rate', sa.Numeric(precision=13, scale=2), nullable=False),
    sa.CheckConstraint("price_group IN ('park_member', 'enterprise', 'internal')", name='ck_price_group'),
    sa.PrimaryKeyConstraint('instrument_id', 'price_group')
    )
    op.create_table('known_institution',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=True),
    sa.Column('park', sa.String(length=100), nullable=True),
    sa.Column('region', sa.String(length=50), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('capabilities', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('no_show',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subject_id')
    )
    with op.batch_alter_table('no_show', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_no_show_user_id'), ['user_id'], unique=False)

    op.create_table('slot_claim',
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('unit_start', sa.DateTime(), nullable=False),
    sa.Column('booking_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('instrument_id', 'unit_start')
    )
    with op.batch_alter_table('slot_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slot_claim_booking_id'), ['booking_id'], unique=False)

    op.create_table('suspension',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('suspension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suspension_user_id'), ['user_id'], unique=False)

    op.create_table('user_qualification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('granted_by', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('user_qualification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_qualification_user_id'), ['user_id'], unique=False)

    op.create_table('waitlist_entry',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('price_group', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('offered_at', sa.DateTime(), nullable=True),
    sa.Column('offer_expires_at', sa.DateTime(), nullable=True),
    sa.Column('booking_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waitlist_entry_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waitlist_entry_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waitlist_entry_user_id'))
        batch_op.drop_index(batch_op.f('ix_waitlist_entry_instrument_id'))

    op.drop_table('waitlist_entry')
    with op.batch_alter_table('user_qualification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_qualification_user_id'))

    op.drop_table('user_qualification')
    with op.batch_alter_table('suspension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suspension_user_id'))

    op.drop_table('suspension')
    with op.batch_alter_table('slot_claim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slot_claim_booking_id'))

    op.drop_table('slot_claim')
    with op.batch_alter_table('no_show', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_no_show_user_id'))

    op.drop_table('no_show')
    op.drop_table('known_institution')
    op.drop_table('instrument_price')
    with op.batch_alter_table('instrument', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_institution_id'))

    op.drop_table('instrument')
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_feed_user_id'))

    op.drop_table('calendar_feed')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_user_id'))
        batch_op.drop_index(batch_op.f('ix_booking_series_id'))
        batch_op.drop_index('ix_booking_instrument_time')
        batch_op.drop_index(batch_op.f('ix_booking_instrument_id'))
        batch_op.drop_index(batch_op.f('ix_booking_institution_id'))

    op.drop_table('booking')
    with op.batch_alter_table('blackout', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blackout_instrument_id'))

    op.drop_table('blackout')
    with op.batch_alter_table('appointment_slot', schema=None) as batch_op:
        batch_op.drop_index('ix_appointment_slot_window_time')
        batch_op.drop_index(batch_op.f('ix_appointment_slot_window_id'))

    op.drop_table('appointment_slot')
    op.drop_table('appointment_day_claim')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_window_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_user_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_slot_id'))

    op.drop_table('appointment')
