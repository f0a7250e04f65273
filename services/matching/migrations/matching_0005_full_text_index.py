"""the search index's postings in the databases' full-text indexes instead of idx_term:
SQLite FTS5 `idx_fts` (rowid = idx_rank.doc) with its vocabulary `idx_fts_vocab`;
PostgreSQL `idx_rank.terms text[]` with a GIN index. One token `term~points` per
term of an institution (services/matching/postings.py).

Revision ID: matching_0005
"""
import re

from alembic import op
import sqlalchemy as sa

revision = "matching_0005"
down_revision = "matching_0004"
branch_labels = None
depends_on = None

# Written out, not imported from postings.py: a migration is history.
TOKENIZER = "unicode61 remove_diacritics 0 tokenchars ':._~'"
_SAFE = re.compile(r"[0-9a-z\u4e00-\u9fff:._]+")


def _fts_token(term: str, points: int) -> str:
    plain = f"{term}~{points}"
    return plain if _SAFE.fullmatch(term) else "x" + plain.encode().hex()


def _from_token(tok: str) -> tuple[str, int]:
    plain = bytes.fromhex(tok[1:]).decode() if "~" not in tok else tok
    term, points = plain.rsplit("~", 1)
    return term, int(points)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # idx_rank becomes a rowid table keyed by doc (= the FTS5 rowid = the idx_institution rowid):
        # the search joins every FTS5 hit to it, and an integer rowid is SQLite's cheapest lookup.
        op.create_table(
            "idx_rank_new",
            sa.Column("doc", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("institution_id", sa.String(64), nullable=False, unique=True),
            sa.Column("qualified_until", sa.Date, nullable=True),
            sa.Column("rating", sa.Float, nullable=True),
            sa.Column("reputation", sa.Integer, nullable=False),
        )
        op.execute("INSERT INTO idx_rank_new (doc, institution_id, qualified_until, rating, reputation) "
                   "SELECT i.rowid, r.institution_id, r.qualified_until, r.rating, r.reputation "
                   "FROM idx_rank r JOIN idx_institution i ON i.id = r.institution_id")
        op.drop_table("idx_rank")
        op.rename_table("idx_rank_new", "idx_rank")
        op.execute(f'CREATE VIRTUAL TABLE idx_fts USING fts5(terms, detail=none, tokenize="{TOKENIZER}")')
        op.execute("CREATE VIRTUAL TABLE idx_fts_vocab USING fts5vocab(idx_fts, 'row')")
        documents: dict[int, list[str]] = {}
        for doc, term, points in bind.execute(sa.text(
                "SELECT r.doc, t.term, t.points FROM idx_term t JOIN idx_rank r ON r.institution_id = t.institution_id")):
            documents.setdefault(doc, []).append(_fts_token(term, points))
        if documents:
            bind.execute(sa.text("INSERT INTO idx_fts (rowid, terms) VALUES (:doc, :terms)"),
                         [{"doc": doc, "terms": " ".join(tokens)} for doc, tokens in documents.items()])
            op.execute("INSERT INTO idx_fts (idx_fts) VALUES ('optimize')")  # one segment, not many
    else:
        op.add_column("idx_rank", sa.Column("doc", sa.Integer, nullable=True))  # unused on PostgreSQL
        op.execute("ALTER TABLE idx_rank ADD COLUMN terms text[] NOT NULL DEFAULT '{}'")
        op.execute("UPDATE idx_rank r SET terms = coalesce((SELECT array_agg(t.term || '~' || t.points) "
                   "FROM idx_term t WHERE t.institution_id = r.institution_id), '{}')")
        op.execute("CREATE INDEX ix_idx_rank_terms ON idx_rank USING gin (terms)")
    op.drop_table("idx_term")
    # The price/cycle and qualification filters are EXISTS per candidate: covering
    # indexes answer them from the index alone, without visiting the rows.
    op.drop_index("ix_idx_capability_institution", table_name="idx_capability")
    op.create_index("ix_idx_capability_institution", "idx_capability",
                    ["institution_id", "category", "price_yuan", "cycle_working_days"])
    op.drop_index("ix_idx_qualification_institution", table_name="idx_qualification")
    op.create_index("ix_idx_qualification_institution", "idx_qualification",
                    ["institution_id", "type", "status", "valid_to"])


def downgrade():
    bind = op.get_bind()
    op.drop_index("ix_idx_capability_institution", table_name="idx_capability")
    op.create_index("ix_idx_capability_institution", "idx_capability", ["institution_id"])
    op.drop_index("ix_idx_qualification_institution", table_name="idx_qualification")
    op.create_index("ix_idx_qualification_institution", "idx_qualification", ["institution_id", "type"])
    op.create_table(
        "idx_term",
        sa.Column("term", sa.String(120), primary_key=True),
        sa.Column("institution_id", sa.String(64), primary_key=True),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("points", sa.Integer, nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_idx_term_institution", "idx_term", ["institution_id"])
    if bind.dialect.name == "sqlite":
        rows = bind.execute(sa.text("SELECT r.institution_id, f.terms FROM idx_fts f "
                                    "JOIN idx_rank r ON r.doc = f.rowid")).all()
        postings = [(institution_id, *_from_token(tok)) for institution_id, terms in rows for tok in terms.split()]
        op.execute("DROP TABLE idx_fts_vocab")
        op.execute("DROP TABLE idx_fts")
    else:
        rows = bind.execute(sa.text("SELECT institution_id, terms FROM idx_rank")).all()
        postings = [(institution_id, *tok.rsplit("~", 1)) for institution_id, terms in rows for tok in terms]
        op.create_index("ix_idx_term_cover", "idx_term", ["term", "institution_id"], postgresql_include=["points"])
    if postings:
        bind.execute(sa.text("INSERT INTO idx_term (term, institution_id, weight, points) "
                             "VALUES (:term, :id, :weight, :points)"),
                     [{"term": t, "id": i, "weight": int(p) / 100, "points": int(p)} for i, t, p in postings])
    if bind.dialect.name == "sqlite":
        op.create_table(
            "idx_rank_old",
            sa.Column("institution_id", sa.String(64), primary_key=True),
            sa.Column("qualified_until", sa.Date, nullable=True),
            sa.Column("rating", sa.Float, nullable=True),
            sa.Column("reputation", sa.Integer, nullable=False),
            sqlite_with_rowid=False,
        )
        op.execute("INSERT INTO idx_rank_old SELECT institution_id, qualified_until, rating, reputation FROM idx_rank")
        op.drop_table("idx_rank")
        op.rename_table("idx_rank_old", "idx_rank")
    else:
        op.drop_index("ix_idx_rank_terms", table_name="idx_rank")
        op.drop_column("idx_rank", "terms")
        op.drop_column("idx_rank", "doc")
