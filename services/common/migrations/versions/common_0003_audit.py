"""common tables: append-only audit log

Revision ID: common_0003
"""
from alembic import op
import sqlalchemy as sa

# The trigger DDL lives next to the model so tests apply exactly what this
# migration applies; audit.py promises never to edit these constants in place.
from services.common.audit import (
    POSTGRES_APPEND_ONLY_DDL,
    POSTGRES_APPEND_ONLY_DROP,
    SQLITE_APPEND_ONLY_DDL,
    SQLITE_APPEND_ONLY_DROP,
)

revision = "common_0003"
down_revision = "common_0002"
branch_labels = None
depends_on = None


def _trigger_statements(create: bool):
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        return POSTGRES_APPEND_ONLY_DDL if create else POSTGRES_APPEND_ONLY_DROP
    if dialect == "sqlite":
        return SQLITE_APPEND_ONLY_DDL if create else SQLITE_APPEND_ONLY_DROP
    # Other databases rely on the ORM guard in services.common.audit alone.
    return ()


def upgrade():
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target_type", sa.String(50), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("target_owner_id", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor_id"])
    op.create_index("ix_audit_entry_target", "audit_entry", ["target_type", "target_id"])
    for statement in _trigger_statements(create=True):
        op.execute(statement)


def downgrade():
    for statement in _trigger_statements(create=False):
        op.execute(statement)
    op.drop_index("ix_audit_entry_target", "audit_entry")
    op.drop_index("ix_audit_entry_actor", "audit_entry")
    op.drop_table("audit_entry")
