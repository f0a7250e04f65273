"""money as Numeric(13, 2): demand.budget_yuan, package.package_price_yuan,
package_member.share_yuan, idx_capability.price_yuan (were Float)

Revision ID: matching_0003
"""
from alembic import op
import sqlalchemy as sa

revision = "matching_0003"
down_revision = "matching_0002"
branch_labels = None
depends_on = None

# (table, column, nullable); written out, not imported: a migration is history.
MONEY_COLUMNS = (
    ("demand", "budget_yuan", True),
    ("package", "package_price_yuan", False),
    ("package_member", "share_yuan", False),
    ("idx_capability", "price_yuan", True),
)
MONEY = sa.Numeric(13, 2)


def _change(old_type, new_type, postgresql_using):
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, nullable in MONEY_COLUMNS:
        if sqlite:
            # SQLite cannot change a column's type in place: batch mode copies the
            # table (rows, keys and indexes kept). Values were floats: round them to
            # fen so that 0.30000000000000004 is stored as 0.3.
            with op.batch_alter_table(table) as batch:
                batch.alter_column(column, existing_type=old_type, type_=new_type, existing_nullable=nullable)
            if new_type is MONEY:
                op.execute(f"UPDATE {table} SET {column} = ROUND({column}, 2) WHERE {column} IS NOT NULL")
        else:
            # The cast rounds half away from zero to two places.
            op.alter_column(table, column, existing_type=old_type, type_=new_type, existing_nullable=nullable,
                            postgresql_using=postgresql_using.format(column=column))


def upgrade():
    _change(sa.Float(), MONEY, "{column}::numeric(13, 2)")


def downgrade():
    _change(MONEY, sa.Float(), "{column}::double precision")
