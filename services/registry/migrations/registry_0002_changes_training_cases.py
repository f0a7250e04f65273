"""registry: changes returned for supplement and resubmitted (R-6.1.3), training events and
sign-ups (clause 5), enterprise-window cases with team and log (R-4.2.3.1/2)

Revision ID: registry_0002
"""
from alembic import op
import sqlalchemy as sa

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
# The data step below rewrites sla_clock rows, a table of the common branch.
depends_on = "common_0002"

TRAINING_MODES = ("onsite", "online")
TRAINING_STATUSES = ("published", "cancelled")
SIGNUP_STATUSES = ("confirmed", "waitlisted", "cancelled")
CASE_STATUSES = ("open", "closed")
CASE_ROLES = ("lead", "expert", "institution", "window", "enterprise_contact")
CASE_LOG_KINDS = ("instrument_selection", "product_development", "technical_problem", "other")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table("institution_change") as batch:
        batch.add_column(sa.Column("submissions", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("first_submitted_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("history", sa.Text, nullable=False, server_default="[]"))
    op.execute("UPDATE institution_change SET first_submitted_at = submitted_at")
    # Changes were timed under the application rule until they got their own rule
    # (same 3 working days); open clocks move over so the new code finds them.
    op.execute("UPDATE sla_clock SET rule = 'registry.change_review' "
               "WHERE rule = 'registry.application_review' AND subject_type = 'institution_change'")

    op.create_table(
        "training_event",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("category_code", sa.String(32), sa.ForeignKey("catalog_category.code"), nullable=False),
        sa.Column("item_code", sa.String(64), sa.ForeignKey("catalog_item.code"), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("starts_at", sa.DateTime, nullable=False),
        sa.Column("ends_at", sa.DateTime, nullable=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("venue", sa.String(300), nullable=True),
        sa.Column("online_url", sa.String(500), nullable=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queue_counter", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("mode", TRAINING_MODES), name="ck_training_mode"),
        sa.CheckConstraint(_in("status", TRAINING_STATUSES), name="ck_training_status"),
        sa.CheckConstraint("capacity >= 1", name="ck_training_capacity"),
    )
    op.create_index("ix_training_upcoming", "training_event", ["status", "starts_at"])
    op.create_index("ix_training_category", "training_event", ["category_code", "starts_at"])
    op.create_table(
        "training_signup",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), sa.ForeignKey("training_event.id"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_role", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queue_no", sa.Integer, nullable=False),
        sa.Column("signed_up_at", sa.DateTime, nullable=False),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("cancelled_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("event_id", "user_id", name="uq_training_signup_user"),
        sa.CheckConstraint(_in("status", SIGNUP_STATUSES), name="ck_training_signup_status"),
    )
    op.create_index("ix_training_signup_queue", "training_signup", ["event_id", "status", "queue_no"])
    op.create_index("ix_training_signup_user", "training_signup", ["user_id"])

    op.create_table(
        "enterprise_case",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("window_id", sa.String(64), sa.ForeignKey("service_window.id"), nullable=False),
        sa.Column("enterprise_user_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("status", CASE_STATUSES), name="ck_enterprise_case_status"),
    )
    op.create_index("ix_enterprise_case_window", "enterprise_case", ["window_id"])
    op.create_index("ix_enterprise_case_owner", "enterprise_case", ["enterprise_user_id"])
    op.create_table(
        "enterprise_case_member",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("enterprise_case.id"), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("role", CASE_ROLES), name="ck_enterprise_case_member_role"),
    )
    op.create_index("ix_enterprise_case_member_user", "enterprise_case_member", ["user_id"])
    op.create_table(
        "enterprise_case_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("enterprise_case.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("author_role", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("kind", CASE_LOG_KINDS), name="ck_enterprise_case_log_kind"),
    )
    op.create_index("ix_enterprise_case_log", "enterprise_case_log", ["case_id", "at"])


def downgrade():
    for table in ("enterprise_case_log", "enterprise_case_member", "enterprise_case", "training_signup",
                  "training_event"):
        op.drop_table(table)
    op.execute("UPDATE sla_clock SET rule = 'registry.application_review' "
               "WHERE rule = 'registry.change_review' AND subject_type = 'institution_change'")
    with op.batch_alter_table("institution_change") as batch:
        batch.drop_column("history")
        batch.drop_column("first_submitted_at")
        batch.drop_column("submissions")
