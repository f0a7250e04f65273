"""registry tables: catalogue, guides, stored files, applications, institutions, qualifications,
capabilities, changes, history, notifications, service windows

Revision ID: registry_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = None

# Written out rather than imported from models.py: a migration is history and
# must keep creating what it created the day it was written.
KINDS = ("lab", "metrology", "certification", "standardization", "ip_agency", "quality", "brand", "other")
QUALIFICATION_TYPES = ("CMA", "CNAS", "LEGAL_METROLOGY", "CERT_BODY", "OTHER")
QUALIFICATION_STATUSES = ("valid", "expired", "revoked")
INSTITUTION_STATUSES = ("active", "deregistered")
REVIEW_STATUSES = ("submitted", "returned", "approved", "rejected")
WINDOW_KINDS = ("park_station", "institution", "enterprise")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table(
        "catalog_category",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("clause", sa.String(16), nullable=True),
        sa.Column("sort", sa.Integer, nullable=False),
    )
    op.create_table(
        "catalog_item",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("category_code", sa.String(32), sa.ForeignKey("catalog_category.code"), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(300), nullable=False),
        sa.Column("clause", sa.String(16), nullable=True),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("sort", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_catalog_item_category", "catalog_item", ["category_code", "sort"])
    op.create_table(
        "guide_version",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("item_code", sa.String(64), sa.ForeignKey("catalog_item.code"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("acceptance_conditions", sa.Text, nullable=False),
        sa.Column("materials", sa.Text, nullable=False),
        sa.Column("process_steps", sa.Text, nullable=False),
        sa.Column("time_limit_working_days", sa.Integer, nullable=True),
        sa.Column("time_limit_note", sa.Text, nullable=True),
        sa.Column("fees", sa.Text, nullable=False),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("change_note", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("item_code", "version", name="uq_guide_item_version"),
    )
    op.create_index("ix_guide_current", "guide_version", ["item_code", "current"])
    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(50), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "institution_application",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("institution_id", sa.String(36), nullable=False, unique=True),
        sa.Column("applicant_user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("legal_representative", sa.Text, nullable=True),
        sa.Column("submissions", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("reasons", sa.Text, nullable=True),
        sa.Column("history", sa.Text, nullable=False),
        sa.CheckConstraint(_in("status", REVIEW_STATUSES), name="ck_application_status"),
    )
    op.create_index("ix_application_status", "institution_application", ["status", "submitted_at"])
    op.create_index("ix_application_applicant", "institution_application", ["applicant_user_id"])
    op.create_table(
        "institution",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False, unique=True),
        sa.Column("region", sa.String(50), nullable=False),
        sa.Column("park", sa.String(100), nullable=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("legal_representative", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=True),
        sa.Column("applicant_user_id", sa.String(64), nullable=True),
        sa.Column("approved_at", sa.DateTime, nullable=False),
        sa.Column("deregistered_at", sa.DateTime, nullable=True),
        sa.Column("deregistration_reason", sa.Text, nullable=True),
        sa.Column("deregistration_forced", sa.Boolean, nullable=True),
        sa.Column("deregistration_late", sa.Boolean, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("status", INSTITUTION_STATUSES), name="ck_institution_status"),
        sa.CheckConstraint(_in("kind", KINDS), name="ck_institution_kind"),
    )
    op.create_index("ix_institution_status_name", "institution", ["status", "name"])
    op.create_table(
        "qualification",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("institution_id", sa.String(36), sa.ForeignKey("institution.id"), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("certificate_sha256", sa.String(64), nullable=True),
        sa.Column("expiring_notified_at", sa.DateTime, nullable=True),
        sa.Column("revoked_reason", sa.Text, nullable=True),
        sa.CheckConstraint(_in("type", QUALIFICATION_TYPES), name="ck_qualification_type"),
        sa.CheckConstraint(_in("status", QUALIFICATION_STATUSES), name="ck_qualification_status"),
    )
    op.create_index("ix_qualification_institution", "qualification", ["institution_id"])
    op.create_index("ix_qualification_valid_to", "qualification", ["status", "valid_to"])
    op.create_table(
        "capability",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("institution_id", sa.String(36), sa.ForeignKey("institution.id"), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("item_code", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("parameter", sa.String(200), nullable=False),
        sa.Column("method_standard", sa.String(100), nullable=False),
        sa.Column("price_yuan", sa.Numeric(12, 2), nullable=False),
        sa.Column("cycle_working_days", sa.Integer, nullable=False),
        sa.Column("qualification_id", sa.String(36), sa.ForeignKey("qualification.id"), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_capability_institution", "capability", ["institution_id"])
    op.create_table(
        "institution_change",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("institution_id", sa.String(36), sa.ForeignKey("institution.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("changed_fields", sa.String(200), nullable=False),
        sa.Column("change_date", sa.Date, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("reasons", sa.Text, nullable=True),
        sa.CheckConstraint(_in("status", REVIEW_STATUSES), name="ck_change_status"),
    )
    op.create_index("ix_change_institution", "institution_change", ["institution_id", "submitted_at"])
    op.create_table(
        "institution_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("institution_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_institution_history", "institution_history", ["institution_id", "at"])
    op.create_table(
        "notification",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("read_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_notification_user", "notification", ["user_id", "created_at"])
    op.create_table(
        "service_window",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(50), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("contact", sa.String(100), nullable=False),
        sa.Column("opening_hours", sa.String(200), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("institution_id", sa.String(36), nullable=True),
        sa.Column("services", sa.Text, nullable=False),
        sa.Column("case_info", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("kind", WINDOW_KINDS), name="ck_window_kind"),
    )


def downgrade():
    for table in ("service_window", "notification", "institution_history", "institution_change", "capability",
                  "qualification", "institution", "institution_application", "stored_file", "guide_version",
                  "catalog_item", "catalog_category"):
        op.drop_table(table)

