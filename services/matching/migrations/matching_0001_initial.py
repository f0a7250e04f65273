"""matching tables: search index (idx_*), standard, demand, demand_entry, visit, package, package_member

Revision ID: matching_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "matching_0001"
down_revision = None
branch_labels = ("matching",)
depends_on = None


# Written out rather than imported from models.py: a migration is history and
# must keep creating what it created the day it was written.
def upgrade():
    op.create_table(
        "demand",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_user_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("visit_id", sa.String(36), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("item_code", sa.String(64), nullable=True),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("standard", sa.String(80), nullable=True),
        sa.Column("parameter", sa.String(200), nullable=True),
        sa.Column("region", sa.String(50), nullable=True),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("budget_yuan", sa.Float, nullable=True),
        sa.Column("desired_cycle_working_days", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("institution_id", sa.String(64), nullable=True),
        sa.Column("package_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_demand_group", "demand", ["category", "item_code", "product"])
    op.create_index("ix_demand_enterprise", "demand", ["enterprise_user_id", "created_at"])
    op.create_index("ix_demand_status", "demand", ["status", "created_at"])

    op.create_table(
        "demand_entry",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), unique=True, nullable=False),
        sa.Column("demand_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor_user_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_demand_entry_demand", "demand_entry", ["demand_id", "seq"])

    op.create_table(
        "idx_capability",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("item_code", sa.String(64), nullable=True),
        sa.Column("item_name", sa.String(200), nullable=True),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("parameter", sa.String(200), nullable=True),
        sa.Column("method_standard", sa.String(200), nullable=True),
        sa.Column("standard_keys", sa.String(300), nullable=False),
        sa.Column("price_yuan", sa.Float, nullable=True),
        sa.Column("cycle_working_days", sa.Integer, nullable=True),
        sa.Column("qualification_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_idx_capability_institution", "idx_capability", ["institution_id"])

    op.create_table(
        "idx_institution",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("region", sa.String(50), nullable=True),
        sa.Column("park", sa.String(100), nullable=True),
        sa.Column("qualified_until", sa.Date, nullable=True),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("on_time_rate", sa.Float, nullable=True),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("deregistered_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_idx_institution_status_region", "idx_institution", ["status", "region"])

    op.create_table(
        "idx_qualification",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("number", sa.String(100), nullable=True),
        sa.Column("scope", sa.Text, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_index("ix_idx_qualification_institution", "idx_qualification", ["institution_id", "type"])

    op.create_table(
        "idx_term",
        sa.Column("term", sa.String(120), primary_key=True),
        sa.Column("institution_id", sa.String(64), primary_key=True),
        sa.Column("weight", sa.Float, nullable=False),
    )
    op.create_index("ix_idx_term_institution", "idx_term", ["institution_id"])

    op.create_table(
        "package",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("item_code", sa.String(64), nullable=True),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("window_id", sa.String(64), nullable=True),
        sa.Column("package_price_yuan", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )

    op.create_table(
        "package_member",
        sa.Column("package_id", sa.String(36), primary_key=True),
        sa.Column("demand_id", sa.String(36), primary_key=True),
        sa.Column("enterprise_user_id", sa.String(64), nullable=False),
        sa.Column("share_yuan", sa.Float, nullable=False),
    )
    op.create_index("ix_package_member_enterprise", "package_member", ["enterprise_user_id"])

    op.create_table(
        "standard",
        sa.Column("number", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("replaced_by", sa.String(80), nullable=True),
        sa.Column("replaces", sa.String(200), nullable=True),
        sa.Column("implemented_on", sa.Date, nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_standard_key", "standard", ["key"])

    op.create_table(
        "visit",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("window_id", sa.String(64), nullable=False),
        sa.Column("staff_user_id", sa.String(64), nullable=False),
        sa.Column("enterprise_user_id", sa.String(64), nullable=True),
        sa.Column("enterprise_name", sa.String(200), nullable=False),
        sa.Column("visited_on", sa.Date, nullable=False),
        sa.Column("visited_at", sa.DateTime, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
    )
    op.create_index("ix_visit_window", "visit", ["window_id", "visited_at"])


def downgrade():
    for table in ("package_member", "package", "visit", "demand_entry", "demand", "standard", "idx_term",
                  "idx_qualification", "idx_capability", "idx_institution"):
        op.drop_table(table)
