"""the search's row filters answered from idx_rank: per qualification type the latest
valid_to of the institution's qualifications with status 'valid' (9999-12-31 when one
has none), the lowest price and shortest cycle of its capabilities, and the one
category all its capabilities share (services/matching/index.filter_facts, search.py).

Revision ID: matching_0006
"""
from alembic import op
import sqlalchemy as sa

revision = "matching_0006"
down_revision = "matching_0005"
branch_labels = None
depends_on = None

# Written out, not imported: a migration is history (services.common.vocabulary then).
QUALIFICATION_COLUMNS = {"CMA": "cma_valid_until", "CNAS": "cnas_valid_until",
                         "LEGAL_METROLOGY": "legal_metrology_valid_until", "CERT_BODY": "cert_body_valid_until",
                         "OTHER": "other_valid_until"}
OPEN_ENDED = "9999-12-31"


def upgrade():
    with op.batch_alter_table("idx_rank") as batch:
        for column in QUALIFICATION_COLUMNS.values():
            batch.add_column(sa.Column(column, sa.Date, nullable=True))
        batch.add_column(sa.Column("lowest_price_yuan", sa.Numeric(13, 2), nullable=True))
        batch.add_column(sa.Column("shortest_cycle_working_days", sa.Integer, nullable=True))
        batch.add_column(sa.Column("capability_category", sa.String(30), nullable=True))
    open_ended = "DATE '9999-12-31'" if op.get_bind().dialect.name == "postgresql" else f"'{OPEN_ENDED}'"
    for type_, column in QUALIFICATION_COLUMNS.items():
        op.execute(f"UPDATE idx_rank SET {column} = (SELECT max(coalesce(q.valid_to, {open_ended})) "
                   f"FROM idx_qualification q WHERE q.institution_id = idx_rank.institution_id "
                   f"AND q.type = '{type_}' AND q.status = 'valid')")
    op.execute("UPDATE idx_rank SET "
               "lowest_price_yuan = (SELECT min(c.price_yuan) FROM idx_capability c "
               "WHERE c.institution_id = idx_rank.institution_id), "
               "shortest_cycle_working_days = (SELECT min(c.cycle_working_days) FROM idx_capability c "
               "WHERE c.institution_id = idx_rank.institution_id), "
               "capability_category = (SELECT CASE WHEN count(DISTINCT c.category) = 1 THEN min(c.category) END "
               "FROM idx_capability c WHERE c.institution_id = idx_rank.institution_id)")


def downgrade():
    with op.batch_alter_table("idx_rank") as batch:
        for column in ("capability_category", "shortest_cycle_working_days", "lowest_price_yuan",
                       *reversed(QUALIFICATION_COLUMNS.values())):
            batch.drop_column(column)
