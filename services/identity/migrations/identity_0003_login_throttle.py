"""identity: login_failure keyed per (account, client network) and per network (issue 8 point 6)

The old table counted failures per username only (a hard 15-minute lock anyone
could trigger). Its rows are throttling state of at most the last 15 minutes,
not records, so the table is recreated rather than converted: the old keys
cannot be split into the new ones anyway (they never held the network).

Revision ID: identity_0003
"""
from alembic import op
import sqlalchemy as sa

revision = "identity_0003"
down_revision = "identity_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_login_failure_key_at", "login_failure")
    op.drop_table("login_failure")
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_network_key", sa.String(64), nullable=False),
        sa.Column("network_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failure_account_network_at", "login_failure", ["account_network_key", "at"])
    op.create_index("ix_login_failure_network_at", "login_failure", ["network_key", "at"])
    op.create_index("ix_login_failure_at", "login_failure", ["at"])


def downgrade():
    op.drop_index("ix_login_failure_at", "login_failure")
    op.drop_index("ix_login_failure_network_at", "login_failure")
    op.drop_index("ix_login_failure_account_network_at", "login_failure")
    op.drop_table("login_failure")
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failure_key_at", "login_failure", ["username_key", "at"])
