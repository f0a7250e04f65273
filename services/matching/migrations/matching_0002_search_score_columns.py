"""search score in SQL: idx_term.points (clustered/covered by term), idx_rank

Revision ID: matching_0002
"""
from alembic import op
import sqlalchemy as sa

revision = "matching_0002"
down_revision = "matching_0001"
branch_labels = None
depends_on = None

NEUTRAL_REPUTATION = 125_000  # (0.15 * 0.5 + 0.1 * 0.5) in micro-points


def _micro(weight: float, value: float) -> int:
    return int(round(round(weight * value, 6) * 1_000_000))


def _reputation(rating, on_time_rate) -> int:
    # Written out, not imported from scoring.py: a migration is history. The
    # rating and on-time contributions exactly as `explain` rounds them.
    return (_micro(0.15, rating / 5.0 if rating is not None else 0.5)
            + _micro(0.1, on_time_rate if on_time_rate is not None else 0.5))


# Weights are multiples of 0.01; ROUND then CAST means the same on SQLite and PostgreSQL.
POINTS = "CAST(ROUND(weight * 100) AS INTEGER)"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot turn a table into WITHOUT ROWID in place: copy it. The
        # clustered primary key (term, institution_id) then holds the points too.
        op.create_table(
            "idx_term_new",
            sa.Column("term", sa.String(120), primary_key=True),
            sa.Column("institution_id", sa.String(64), primary_key=True),
            sa.Column("weight", sa.Float, nullable=False),
            sa.Column("points", sa.Integer, nullable=False, server_default="0"),
            sqlite_with_rowid=False,
        )
        op.execute(f"INSERT INTO idx_term_new (term, institution_id, weight, points) "
                   f"SELECT term, institution_id, weight, {POINTS} FROM idx_term")
        op.drop_table("idx_term")
        op.rename_table("idx_term_new", "idx_term")
        op.create_index("ix_idx_term_institution", "idx_term", ["institution_id"])
    else:
        op.add_column("idx_term", sa.Column("points", sa.Integer, nullable=False, server_default="0"))
        op.execute(f"UPDATE idx_term SET points = {POINTS}")
        op.create_index("ix_idx_term_cover", "idx_term", ["term", "institution_id"], postgresql_include=["points"])

    op.create_table(
        "idx_rank",
        sa.Column("institution_id", sa.String(64), primary_key=True),
        sa.Column("qualified_until", sa.Date, nullable=True),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("reputation", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(f"INSERT INTO idx_rank (institution_id, qualified_until, rating, reputation) "
               f"SELECT id, qualified_until, rating, {NEUTRAL_REPUTATION} FROM idx_institution WHERE status = 'active'")
    bind = op.get_bind()
    institution = sa.table("idx_institution", sa.column("id", sa.String), sa.column("status", sa.String),
                           sa.column("rating", sa.Float), sa.column("on_time_rate", sa.Float))
    rank = sa.table("idx_rank", sa.column("institution_id", sa.String), sa.column("reputation", sa.Integer))
    rated = bind.execute(sa.select(institution.c.id, institution.c.rating, institution.c.on_time_rate).where(
        institution.c.status == "active",
        sa.or_(institution.c.rating.is_not(None), institution.c.on_time_rate.is_not(None)))).all()
    for row in rated:
        bind.execute(rank.update().where(rank.c.institution_id == row.id)
                     .values(reputation=_reputation(row.rating, row.on_time_rate)))


def downgrade():
    op.drop_table("idx_rank")
    if op.get_bind().dialect.name == "sqlite":
        op.create_table(
            "idx_term_old",
            sa.Column("term", sa.String(120), primary_key=True),
            sa.Column("institution_id", sa.String(64), primary_key=True),
            sa.Column("weight", sa.Float, nullable=False),
        )
        op.execute("INSERT INTO idx_term_old (term, institution_id, weight) "
                   "SELECT term, institution_id, weight FROM idx_term")
        op.drop_table("idx_term")
        op.rename_table("idx_term_old", "idx_term")
        op.create_index("ix_idx_term_institution", "idx_term", ["institution_id"])
    else:
        op.drop_index("ix_idx_term_cover", table_name="idx_term")
        op.drop_column("idx_term", "points")
