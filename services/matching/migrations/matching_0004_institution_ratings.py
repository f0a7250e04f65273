"""ratings from feedback (institution.rated): idx_institution.rating_period, rating_evaluations, rated_at

Revision ID: matching_0004
"""
from alembic import op
import sqlalchemy as sa

revision = "matching_0004"
down_revision = "matching_0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("idx_institution") as batch:
        batch.add_column(sa.Column("rating_period", sa.String(20), nullable=True))
        batch.add_column(sa.Column("rating_evaluations", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rated_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("idx_institution") as batch:
        batch.drop_column("rated_at")
        batch.drop_column("rating_evaluations")
        batch.drop_column("rating_period")
