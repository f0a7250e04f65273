"""delivery tables: known_institution (registry events), report, report_verification,
known_account (identity events), verification_failure, report_acceptance, notification, manifest, sample, sample_item,
custody_step, sample_exception, instrument

Revision ID: delivery_0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'delivery_0001'
down_revision = None
branch_labels = ('delivery',)
depends_on = None


def upgrade():
    op.create_table('known_account',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('nickname', sa.String(length=100), nullable=False),
    sa.Column('registered_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('custody_step',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sample_id', sa.String(length=36), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('seal_number', sa.String(length=64), nullable=True),
    sa.Column('condition', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_role', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('custody_step', schema=None) as batch_op:
        batch_op.create_index('ix_custody_sample', ['sample_id', 'seq'], unique=False)

    op.create_table('instrument',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('serial', sa.String(length=100), nullable=False),
    sa.Column('measuring_range', sa.String(length=100), nullable=False),
    sa.Column('accuracy_class', sa.String(length=50), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('custodian', sa.Text(), nullable=True),  # PII token (pii.EncryptedText)
    sa.Column('custodian_masked', sa.String(length=100), nullable=True),
    sa.Column('abc_class', sa.String(length=1), nullable=False),
    sa.Column('compulsory', sa.Boolean(), nullable=False),
    sa.Column('control', sa.String(length=20), nullable=False),
    sa.Column('interval_months', sa.Integer(), nullable=False),
    sa.Column('cert_number', sa.String(length=64), nullable=True),
    sa.Column('cert_institution', sa.String(length=200), nullable=True),
    sa.Column('cert_date', sa.Date(), nullable=True),
    sa.Column('next_due', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reminders_sent', sa.Text(), nullable=False),
    sa.Column('demand_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('enterprise_id', 'serial', name='uq_instrument_serial')
    )
    with op.batch_alter_table('instrument', schema=None) as batch_op:
        batch_op.create_index('ix_instrument_due', ['status', 'next_due'], unique=False)

    op.create_table('known_institution',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('qualifications', sa.Text(), nullable=False),
    sa.Column('capabilities', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('manifest',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=200), nullable=True),
    sa.Column('seal_number', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_table('notification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('contact', sa.Text(), nullable=True),  # PII token (pii.EncryptedText)
    sa.Column('contact_masked', sa.String(length=100), nullable=True),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('text_zh', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_account', ['account_id', 'created_at'], unique=False)

    op.create_table('report',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('institution_name', sa.String(length=200), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=200), nullable=False),
    sa.Column('item', sa.String(length=200), nullable=True),
    sa.Column('standards', sa.Text(), nullable=False),
    sa.Column('test_date', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('conclusion', sa.Text(), nullable=False),
    sa.Column('marks', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('instrument_id', sa.String(length=36), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_stored', sa.Boolean(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('scope_flags', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('supersedes', sa.String(length=40), nullable=True),
    sa.Column('superseded_by', sa.String(length=40), nullable=True),
    sa.Column('superseded_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('verification_count', sa.Integer(), nullable=False),
    sa.Column('acceptance_count', sa.Integer(), nullable=False),
    sa.Column('retests_avoided', sa.Integer(), nullable=False),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    sa.Column('registered_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index('ix_report_enterprise', ['enterprise_id', 'registered_at'], unique=False)
        batch_op.create_index('ix_report_institution', ['institution_id', 'registered_at'], unique=False)
        batch_op.create_index('ix_report_sha', ['pdf_sha256'], unique=False)

    op.create_table('report_acceptance',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('party', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('retest_avoided', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_acceptance', schema=None) as batch_op:
        batch_op.create_index('ix_acceptance_report', ['report_id', 'at'], unique=False)

    op.create_table('report_verification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('contact', sa.Text(), nullable=True),  # PII token (pii.EncryptedText)
    sa.Column('contact_masked', sa.String(length=100), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_verification', schema=None) as batch_op:
        batch_op.create_index('ix_verification_report', ['report_id', 'at'], unique=False)

    op.create_table('sample',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('label_number', sa.String(length=40), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('demand_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('manifest_id', sa.String(length=36), nullable=True),
    sa.Column('report_number', sa.String(length=40), nullable=True),
    sa.Column('delivered_to', sa.Text(), nullable=True),  # PII token (pii.EncryptedText)
    sa.Column('delivered_to_masked', sa.String(length=100), nullable=True),
    sa.Column('delivered_how', sa.String(length=20), nullable=True),
    sa.Column('retention_rule', sa.String(length=200), nullable=True),
    sa.Column('open_exceptions', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('label_number')
    )
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.create_index('ix_sample_enterprise', ['enterprise_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sample_institution', ['institution_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sample_station', ['station_id', 'created_at'], unique=False)

    op.create_table('sample_exception',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('sample_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('raised_by', sa.String(length=64), nullable=False),
    sa.Column('raised_role', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sample_exception', schema=None) as batch_op:
        batch_op.create_index('ix_sample_exception_sample', ['sample_id', 'at'], unique=False)

    op.create_table('sample_item',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('sample_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('condition', sa.String(length=20), nullable=False),
    sa.Column('photos', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sample_item', schema=None) as batch_op:
        batch_op.create_index('ix_sample_item_sample', ['sample_id', 'position'], unique=False)

    op.create_table('verification_failure',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('network_key', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('verification_failure', schema=None) as batch_op:
        batch_op.create_index('ix_verification_failure', ['network_key', 'at'], unique=False)


def downgrade():
    # Tables only: their indexes go with them.
    op.drop_table('verification_failure')
    op.drop_table('sample_item')
    op.drop_table('sample_exception')
    op.drop_table('sample')
    op.drop_table('report_verification')
    op.drop_table('report_acceptance')
    op.drop_table('report')
    op.drop_table('notification')
    op.drop_table('manifest')
    op.drop_table('known_institution')
    op.drop_table('known_account')
    op.drop_table('instrument')
    op.drop_table('custody_step')
