"""identity tables: user, phone_challenge, auth_session, auth_refresh_token, role_change, login_failure

Revision ID: identity_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "identity_0001"
down_revision = None
branch_labels = ("identity",)
depends_on = None

# Written out rather than imported from models.py: a migration is history and
# must keep creating what it created the day it was written.
ROLES = ("enterprise", "person", "institution", "window", "operator", "regulator", "admin")
STATUSES = ("active", "disabled")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table(
        "user",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("nickname", sa.String(64), nullable=False),
        sa.Column("real_name", sa.Text, nullable=True),
        sa.Column("id_number", sa.Text, nullable=True),
        sa.Column("id_number_bidx", sa.String(64), nullable=True),
        sa.Column("phone", sa.Text, nullable=True),
        sa.Column("phone_bidx", sa.String(64), nullable=True),
        sa.Column("phone_verified_at", sa.DateTime, nullable=True),
        sa.Column("org_name", sa.String(200), nullable=True),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("identity_verified_at", sa.DateTime, nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("window_id", sa.String(64), nullable=True),
        sa.Column("institution_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(_in("role", ROLES), name="ck_user_role"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_user_status"),
    )
    op.create_index("ix_user_id_number_bidx", "user", ["id_number_bidx"])
    op.create_index("ix_user_phone_bidx", "user", ["phone_bidx"])
    op.create_index("uq_user_phone_bidx_active", "user", ["phone_bidx"], unique=True,
                    sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
    op.create_index("ix_user_role_username", "user", ["role", "username"])
    op.create_index("ix_user_uscc", "user", ["uscc"])

    op.create_table(
        "phone_challenge",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("phone_bidx", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("consumed_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_phone_challenge_user_created", "phone_challenge", ["user_id", "created_at"])

    op.create_table(
        "auth_session",
        sa.Column("sid", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("refresh_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("rotation", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("access_expires_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("revoked_reason", sa.String(32), nullable=True),
        sa.Column("last_ip", sa.String(45), nullable=True),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_auth_session_user", "auth_session", ["user_id"])
    op.create_index("ix_auth_session_revoked", "auth_session", ["revoked_at", "access_expires_at"])

    op.create_table(
        "auth_refresh_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("sid", sa.String(36), sa.ForeignKey("auth_session.sid"), nullable=False),
        sa.Column("rotation", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
        sa.Column("rotated_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_auth_refresh_token_sid", "auth_refresh_token", ["sid"])

    op.create_table(
        "role_change",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("old_role", sa.String(20), nullable=False),
        sa.Column("new_role", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_role_change_user", "role_change", ["user_id", "changed_at"])

    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failure_key_at", "login_failure", ["username_key", "at"])


def downgrade():
    op.drop_index("ix_login_failure_key_at", "login_failure")
    op.drop_table("login_failure")
    op.drop_index("ix_role_change_user", "role_change")
    op.drop_table("role_change")
    op.drop_index("ix_auth_refresh_token_sid", "auth_refresh_token")
    op.drop_table("auth_refresh_token")
    op.drop_index("ix_auth_session_revoked", "auth_session")
    op.drop_index("ix_auth_session_user", "auth_session")
    op.drop_table("auth_session")
    op.drop_index("ix_phone_challenge_user_created", "phone_challenge")
    op.drop_table("phone_challenge")
    op.drop_index("ix_user_uscc", "user")
    op.drop_index("ix_user_role_username", "user")
    op.drop_index("uq_user_phone_bidx_active", "user")
    op.drop_index("ix_user_phone_bidx", "user")
    op.drop_index("ix_user_id_number_bidx", "user")
    op.drop_table("user")
