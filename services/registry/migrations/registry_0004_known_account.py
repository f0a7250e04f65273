"""registry: known_account, the ids, roles and public nicknames identity announces (user.registered),
so a training's participants are listed by nickname

Revision ID: registry_0004
"""
from alembic import op
import sqlalchemy as sa

revision = "registry_0004"
down_revision = "registry_0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "known_account",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("nickname", sa.String(100), nullable=False),
        sa.Column("registered_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("known_account")
