"""identity: explicit verification levels, business-licence review (issue 8 point 7)

`identity_verified_at` used to be set when a USCC / ID number passed its check
characters. That moment moves to the new `format_checked_at`, and
`identity_verified_at` is cleared: from now on it means "verified beyond the
format" (licence reviewed or external check), which no existing account is.

Revision ID: identity_0004
"""
from alembic import op
import sqlalchemy as sa

revision = "identity_0004"
down_revision = "identity_0003"
branch_labels = None
depends_on = None

LICENCE_STATUSES = ("submitted", "returned", "approved")


def upgrade():
    # Plain ADD COLUMN (nullable) works on both databases without rebuilding the table.
    op.add_column("user", sa.Column("format_checked_at", sa.DateTime, nullable=True))
    op.add_column("user", sa.Column("licence_reviewed_at", sa.DateTime, nullable=True))
    op.add_column("user", sa.Column("externally_verified_at", sa.DateTime, nullable=True))
    op.add_column("user", sa.Column("external_verifier", sa.String(100), nullable=True))
    op.execute('UPDATE "user" SET format_checked_at = identity_verified_at, identity_verified_at = NULL')

    op.create_table(
        "identity_file",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "licence_review",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("user.id"), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file_sha256", sa.String(64), sa.ForeignKey("identity_file.sha256"), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("decided_by", sa.String(36), nullable=True),
        sa.Column("return_reason", sa.Text, nullable=True),
        sa.Column("history", sa.Text, nullable=False),
        sa.CheckConstraint("status IN (" + ", ".join(repr(s) for s in LICENCE_STATUSES) + ")",
                           name="ck_licence_review_status"),
    )
    op.create_index("ix_licence_review_status_submitted", "licence_review", ["status", "submitted_at"])


def downgrade():
    op.drop_index("ix_licence_review_status_submitted", "licence_review")
    op.drop_table("licence_review")
    op.drop_table("identity_file")
    op.execute('UPDATE "user" SET identity_verified_at = format_checked_at')
    with op.batch_alter_table("user") as batch:
        batch.drop_column("external_verifier")
        batch.drop_column("externally_verified_at")
        batch.drop_column("licence_reviewed_at")
        batch.drop_column("format_checked_at")
