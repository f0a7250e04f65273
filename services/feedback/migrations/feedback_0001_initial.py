"""feedback tables: evaluation, assessment, rectification, case_step, complaint, complaint_pause,
complaint_counter, supervision_rule(+_version), statistics_publication, callback, support_request, improvement,
institution_name

Revision ID: feedback_0001
"""
# Written out (generated once from models.py, then kept): a migration is history.
from alembic import op
import sqlalchemy as sa


revision = 'feedback_0001'
down_revision = None
branch_labels = ('feedback',)
depends_on = None


def upgrade():
    op.create_table('assessment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('evaluation_id', sa.String(length=36), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=False),
    sa.Column('assessor_id', sa.String(length=64), nullable=False),
    sa.Column('batch', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("method IN ('self', 'third_party')", name='ck_assessment_method'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('evaluation_id', 'method', name='uq_assessment_method')
    )
    op.create_table('callback',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=True),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('done_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index('ix_callback_state', ['state', 'created_at'], unique=False)

    op.create_table('case_step',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_type', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('case_step', schema=None) as batch_op:
        batch_op.create_index('ix_case_step_case', ['case_type', 'case_id', 'seq'], unique=False)

    op.create_table('complaint',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('complainant_id', sa.String(length=64), nullable=True),
    sa.Column('complainant_name', sa.Text(), nullable=True),  # encrypted (services.common.pii.EncryptedText)
    sa.Column('complainant_phone', sa.Text(), nullable=True),  # encrypted (services.common.pii.EncryptedText)
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('requests', sa.Text(), nullable=True),
    sa.Column('link_type', sa.String(length=10), nullable=True),
    sa.Column('link_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('waiting', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.Column('investigated_at', sa.DateTime(), nullable=True),
    sa.Column('forwarded_at', sa.DateTime(), nullable=True),
    sa.Column('returned_at', sa.DateTime(), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('return_decision', sa.String(length=12), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_text', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('told_at', sa.DateTime(), nullable=True),
    sa.Column('told_channel', sa.String(length=10), nullable=True),
    sa.Column('satisfaction', sa.String(length=20), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('merged_into', sa.String(length=36), nullable=True),
    sa.Column('handler_id', sa.String(length=64), nullable=True),
    sa.CheckConstraint("channel IN ('phone', 'web', 'window', 'letter')", name='ck_complaint_channel'),
    sa.CheckConstraint("state IN ('received', 'accepted', 'investigated', 'forwarded', 'returned', 'answered', 'decided', 'told', 'closed', 'merged')", name='ck_complaint_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_institution', ['institution_id', 'created_at'], unique=False)
        batch_op.create_index('ix_complaint_state', ['state', 'created_at'], unique=False)

    op.create_table('complaint_counter',
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('complaint_pause',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('complaint_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('ended_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaint_pause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_pause_complaint_id'), ['complaint_id'], unique=False)

    op.create_table('institution_name',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('evaluation',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('service_type', sa.String(length=30), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('window_id', sa.String(length=64), nullable=True),
    sa.Column('handler_id', sa.String(length=64), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.Column('source_event_id', sa.String(length=36), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('expired_at', sa.DateTime(), nullable=True),
    sa.Column('submitted_by', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=True),
    sa.Column('entered_by', sa.String(length=64), nullable=True),
    sa.Column('call_reference', sa.String(length=100), nullable=True),
    sa.Column('overall', sa.String(length=20), nullable=True),
    sa.Column('process', sa.String(length=20), nullable=True),
    sa.Column('efficiency', sa.String(length=20), nullable=True),
    sa.Column('attitude', sa.String(length=20), nullable=True),
    sa.Column('reason_tags', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('comment_at', sa.DateTime(), nullable=True),
    sa.Column('overturned', sa.Boolean(), nullable=False),
    sa.Column('overturn_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('invited', 'submitted', 'expired')", name='ck_evaluation_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('service_type', 'service_id', name='uq_evaluation_service')
    )
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_enterprise', ['enterprise_id', 'invited_at'], unique=False)
        batch_op.create_index('ix_evaluation_institution', ['institution_id', 'finished_at'], unique=False)

    op.create_table('improvement',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('linked_id', sa.String(length=36), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('recheck_result', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('rectification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('evaluation_id', sa.String(length=36), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('verified_by', sa.String(length=64), nullable=True),
    sa.Column('cause_analysis', sa.Text(), nullable=True),
    sa.Column('acted_at', sa.DateTime(), nullable=True),
    sa.Column('acted_by', sa.String(length=64), nullable=True),
    sa.Column('measures', sa.Text(), nullable=True),
    sa.Column('appeal_reason', sa.Text(), nullable=True),
    sa.Column('appealed_at', sa.DateTime(), nullable=True),
    sa.Column('appealed_from', sa.String(length=12), nullable=True),
    sa.Column('appeal_decision', sa.String(length=12), nullable=True),
    sa.Column('appeal_decided_by', sa.String(length=64), nullable=True),
    sa.Column('rechecked_at', sa.DateTime(), nullable=True),
    sa.Column('rechecked_by', sa.String(length=64), nullable=True),
    sa.Column('recheck_note', sa.Text(), nullable=True),
    sa.Column('called_back_at', sa.DateTime(), nullable=True),
    sa.Column('callback_result', sa.String(length=20), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('opened', 'verified', 'appealed', 'rectified', 'explained', 'rechecked', 'called_back', 'closed', 'overturned')", name='ck_rectification_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('evaluation_id')
    )
    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_state', ['state', 'opened_at'], unique=False)

    op.create_table('statistics_publication',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year', 'quarter', name='uq_statistics_quarter')
    )
    op.create_table('supervision_rule',
    sa.Column('complaint_type', sa.String(length=30), nullable=False),
    sa.Column('handler_role', sa.String(length=20), nullable=False),
    sa.Column('reply_rule', sa.String(length=100), nullable=False),
    sa.Column('escalate_to', sa.String(length=20), nullable=False),
    sa.Column('escalate_after_working_days', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('complaint_type')
    )
    op.create_table('supervision_rule_version',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('complaint_type', sa.String(length=30), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('supervision_rule_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_rule_version_complaint_type'), ['complaint_type'], unique=False)

    op.create_table('support_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('page', sa.String(length=300), nullable=True),
    sa.Column('request_id', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('support_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_request_user_id'), ['user_id'], unique=False)




def downgrade():
    op.drop_table('institution_name')
    op.drop_table('support_request')
    op.drop_table('supervision_rule_version')
    op.drop_table('supervision_rule')
    op.drop_table('statistics_publication')
    op.drop_table('rectification')
    op.drop_table('improvement')
    op.drop_table('evaluation')
    op.drop_table('complaint_pause')
    op.drop_table('complaint_counter')
    op.drop_table('complaint')
    op.drop_table('case_step')
    op.drop_table('callback')
    op.drop_table('assessment')
