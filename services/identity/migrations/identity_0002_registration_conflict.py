"""identity: registration_conflict (refused self-registrations per client network, for throttling)

Revision ID: identity_0002
"""
from alembic import op
import sqlalchemy as sa

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "registration_conflict",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_registration_conflict_key_at", "registration_conflict", ["client_key", "at"])


def downgrade():
    op.drop_index("ix_registration_conflict_key_at", "registration_conflict")
    op.drop_table("registration_conflict")
