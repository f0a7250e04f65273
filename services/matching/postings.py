"""The search index's candidate generator: which institutions hold which terms, and
with how many points, on SQLite (FTS5) and PostgreSQL (a GIN index over a text[]).

Every term of an institution (text.py's analysis, index.institution_terms) is
stored as one token `term~points`: the term and its weight in hundredths. The
weights come from a small fixed set (FIELD_WEIGHTS times the pinyin and initials
factors, and 0 for facets), so for a query term the index needs only a handful
of exact lookups, one per points class, and each hit says the points with it.
That is all the ranking needs: no per-(term, institution) row table, and an
institution's whole term set is written as one document (one FTS5 row, one
array), which is what made catch-up cheap (the per-term b-tree rows dirtied a
page per term on every commit).

Why not the databases' own text search: PostgreSQL's tsvector parsers do not
segment Chinese and know neither pinyin, initials nor the standard-number
spellings (GB/T 2828.1 = gb/t2828.1 = GBT2828.1), and pg_trgm would match
fragments, not words; FTS5's tokenizers do not segment Chinese either. Both
databases therefore index the terms text.py already made, verbatim, and match
them exactly: FTS5 with a tokenizer that keeps a token whole (`:._~` are token
characters, anything else is hex-encoded), PostgreSQL with `@>`/`&&` on text[].

SQLite: `idx_fts(rowid = idx_rank.doc, terms)` and its vocabulary `idx_fts_vocab`
(which tokens exist: the classes of a query term, and whether it is known at all).
PostgreSQL: `idx_rank.terms text[]` with a GIN index; which classes a term has is one GIN
probe per possible class (`_pg_present_classes`).
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import re

from sqlalchemy import Column, MetaData, Table, bindparam
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from . import text
from .models import RankedInstitution

# Every points value a term can carry (index.term_points of each possible weight).
POINT_CLASSES = tuple(sorted({int(round(w * f * 100)) for w in text.FIELD_WEIGHTS.values()
                              for f in (1.0, text.PINYIN_FACTOR, text.INITIALS_FACTOR)} | {0}, reverse=True))
# Facet terms carry no text weight (index.institution_terms gives them 0.0).
FACET_PREFIXES = ("cat:", "item:", "region:", "park:")
MAX_COMBINATIONS = 16  # class combinations of a multi-word query looked up one by one
FTS_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars ':._~'"  # as matching_0005 created idx_fts
_SAFE = re.compile(r"[0-9a-z\u4e00-\u9fff:._]+")


# idx_rank as PostgreSQL has it: with the term array (not in the ORM model, SQLite has no such column).
PG_RANK = Table("idx_rank", MetaData(), *[Column(c.name, c.type, primary_key=c.primary_key)
                                            for c in RankedInstitution.__table__.columns],
                Column("terms", postgresql.ARRAY(postgresql.TEXT)))


def is_facet(term: str) -> bool:
    return term.startswith(FACET_PREFIXES)


def classes_of(term: str) -> tuple[int, ...]:
    return (0,) if is_facet(term) else tuple(p for p in POINT_CLASSES if p)


def token(term: str, points: int) -> str:
    """The stored token of a term with its points (PostgreSQL stores exactly this)."""
    return f"{term}~{points}"


@functools.lru_cache(maxsize=200_000)  # the same terms recur across institutions
def fts_token(term: str, points: int) -> str:
    """The FTS5 token: the same, kept whole by the tokenizer. A term with any other
    character (upper case too, which the tokenizer would fold) is hex-encoded; hex
    has no '~', so an encoded token never equals a plain one."""
    if _SAFE.fullmatch(term):
        return token(term, points)
    return "x" + token(term, points).encode().hex()


def _quoted(tok: str) -> str:
    return '"' + tok + '"'


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# -- writing --------------------------------------------------------------------------------
def document(terms: dict[str, int], sqlite: bool):
    """What the index stores for an institution's {term: points}: the FTS5 text or the array."""
    if sqlite:
        return " ".join(fts_token(t, p) for t, p in terms.items())
    return [token(t, p) for t, p in terms.items()]


def _from_token(tok: str) -> tuple[str, int]:
    plain = tok if "~" in tok else bytes.fromhex(tok[1:]).decode()
    term, points = plain.rsplit("~", 1)
    return term, int(points)


def documents(session: Session) -> dict[str, dict[str, int]]:
    """The whole index read back, {institution_id: {term: points}} (tests, checks after a rebuild)."""
    if is_sqlite(session):
        rows = session.execute(sql_text("SELECT r.institution_id, f.terms FROM idx_fts f "
                                        "JOIN idx_rank r ON r.doc = f.rowid")).all()
        return {i: dict(_from_token(tok) for tok in terms.split()) for i, terms in rows}
    rows = session.execute(sql_text("SELECT institution_id, terms FROM idx_rank")).all()
    return {i: dict(_from_token(tok) for tok in terms) for i, terms in rows}


# -- reading --------------------------------------------------------------------------------
# PostgreSQL planner settings for a search's statements (search_plans).
_SEARCH_SETTINGS = {"enable_seqscan": "off", "max_parallel_workers_per_gather": "0"}


@contextlib.contextmanager
def search_plans(session: Session):
    """PostgreSQL: the statements inside use the GIN index, never a sequential scan of
    idx_rank, and no parallel workers.

    A common term is held by a quarter of the institutions, so the planner, costing `&&`/`@>`
    like any operator, prefers reading the whole table; but each row's check compares the
    query's tokens with the row's few hundred (measured at 10k institutions: a count 547 ms by
    sequential scan, 13.6 ms by the GIN index). And starting parallel workers for a query of a
    few milliseconds costs more than it saves (the page statement 35 ms with two workers on the
    loaded 2-core machine). Set for the current transaction only (`set_config(..., true)`) and
    put back as they were afterwards (after an error the transaction's end puts them back)."""
    if is_sqlite(session):
        yield
        return
    names = list(_SEARCH_SETTINGS)
    before = session.execute(sql_text("SELECT " + ", ".join(
        f"current_setting('{n}'), set_config('{n}', '{v}', true)" for n, v in _SEARCH_SETTINGS.items()))).first()
    yield
    session.execute(sql_text("SELECT " + ", ".join(f"set_config('{n}', :v{i}, true)" for i, n in enumerate(names))),
                    {f"v{i}": before[2 * i] for i in range(len(names))})


def present_classes(session: Session, terms: list[str]) -> dict[str, tuple[int, ...]]:
    """For each term the points classes the index holds it with (empty: unknown term)."""
    if not terms:
        return {}
    if not is_sqlite(session):
        return _pg_present_classes(session, terms)
    # One vocabulary range per term (the tokens `term~<points>` sort together); a range
    # is one b-tree seek, where an IN list of every possible class was a probe each.
    params, parts = {}, []
    for i, term in enumerate(terms):
        prefix = fts_token(term, 0)[:-1] if _SAFE.fullmatch(term) else fts_token(term, 0)[:-2]
        params[f"a{i}"], params[f"b{i}"] = prefix, prefix + "\U0010ffff"
        parts.append(f"SELECT term FROM idx_fts_vocab WHERE term >= :a{i} AND term < :b{i}")
    out: dict[str, list[int]] = {}
    wanted = set(terms)
    for tok in session.execute(sql_text(" UNION ALL ".join(parts)), params).scalars():
        term, points = _from_token(tok)
        if term in wanted:  # not a longer term that merely starts alike
            out.setdefault(term, []).append(points)
    return {t: tuple(sorted(ps, reverse=True)) for t, ps in out.items()}


# Which of the tokens some institution holds: one GIN probe per token (PostgreSQL keeps no
# vocabulary of array elements), all terms' classes in one statement.
_PG_PRESENT = sql_text("SELECT tok FROM unnest(:tokens) AS tok "
                       "WHERE EXISTS (SELECT 1 FROM idx_rank WHERE terms @> ARRAY[tok])").bindparams(
    bindparam("tokens", type_=postgresql.ARRAY(postgresql.TEXT)))


def _pg_present_classes(session: Session, terms: list[str]) -> dict[str, tuple[int, ...]]:
    # The classes actually held, not every possible one: a query term then brings one candidate
    # lookup per class it has (2-3, not 17), and a multi-word query few enough class
    # combinations for scored_hits' one-lookup-per-combination form.
    tokens = [token(t, p) for t in terms for p in classes_of(t)]
    out: dict[str, list[int]] = {}
    for tok in session.execute(_PG_PRESENT, {"tokens": tokens}).scalars():
        term, points = tok.rsplit("~", 1)
        out.setdefault(term, []).append(int(points))
    return {t: tuple(sorted(ps, reverse=True)) for t, ps in out.items()}


def scored_hits(sqlite: bool, classes: dict[str, tuple[int, ...]], required: list[str],
                pg_columns: str = "institution_id AS key") -> tuple[str, dict, int]:
    """The SQL of a query (key, pts), its parameters (PostgreSQL's: text arrays), and how many
    rows an institution has in it: either one row per matching institution with its summed
    points (few class combinations), or one row per required non-facet term and matching
    institution with that term's points (to be summed by the caller); an institution not
    holding every required term appears not at all. With only facet terms: one row per
    match, pts 0. On PostgreSQL the hits are idx_rank rows themselves: `pg_columns` says
    which of their columns to return beside pts (the ranking takes them all, no join back)."""
    scored = [t for t in required if not is_facet(t)] or required[:1]
    params: dict = {}
    parts = []
    combinations = list(itertools.product(*(classes[t] for t in scored)))
    if len(scored) > 1 and len(combinations) <= MAX_COMBINATIONS:
        # Few class combinations (the vocabulary knows which classes exist): one exact
        # lookup per combination, whose hits carry the summed points, and the index
        # does the intersection. Every institution appears once: no GROUP BY.
        facets = [t for t in required if t not in scored]
        for combination in combinations:
            name = f"m{len(parts)}"
            pts = sum(combination)
            if sqlite:
                params[name] = " AND ".join([_quoted(fts_token(t, p)) for t, p in zip(scored, combination)]
                                            + [_fts_any(f, classes[f]) for f in facets])
                parts.append(f"SELECT rowid AS key, {pts} AS pts FROM idx_fts WHERE idx_fts MATCH :{name}")
            else:
                params[name] = [token(t, p) for t, p in zip(scored, combination)] + [token(f, 0) for f in facets]
                parts.append(f"SELECT {pg_columns}, {pts} AS pts FROM idx_rank WHERE terms @> :{name}")
        return " UNION ALL ".join(parts), params, 1
    for term in scored:
        others = [t for t in required if t != term]
        for points in classes[term]:
            name = f"m{len(parts)}"
            pts = points if not is_facet(term) else 0
            if sqlite:
                params[name] = " AND ".join([_quoted(fts_token(term, points))]
                                            + [_fts_any(o, classes[o]) for o in others])
                parts.append(f"SELECT rowid AS key, {pts} AS pts FROM idx_fts WHERE idx_fts MATCH :{name}")
            else:
                params[name + "a"] = [token(term, points)] + [token(o, 0) for o in others if is_facet(o)]
                condition = [f"terms @> :{name}a"]
                for j, other in enumerate(o for o in others if not is_facet(o)):
                    params[f"{name}o{j}"] = [token(other, p) for p in classes[other]]
                    condition.append(f"terms && :{name}o{j}")
                parts.append(f"SELECT {pg_columns}, {pts} AS pts FROM idx_rank WHERE "
                             + " AND ".join(condition))
    return " UNION ALL ".join(parts), params, len(scored)


def _fts_any(term: str, classes: tuple[int, ...]) -> str:
    return "(" + " OR ".join(_quoted(fts_token(term, p)) for p in classes) + ")"


def count(session: Session, classes: dict[str, tuple[int, ...]], required: list[str]) -> int:
    """How many institutions hold every required term."""
    if is_sqlite(session):
        match = " AND ".join(_fts_any(t, classes[t]) for t in required)
        return session.execute(sql_text("SELECT count(*) FROM idx_fts WHERE idx_fts MATCH :m"), {"m": match}).scalar()
    params = {f"t{i}": [token(t, p) for p in classes[t]] for i, t in enumerate(required)}
    statement = sql_text("SELECT count(*) FROM idx_rank WHERE " + " AND ".join(f"terms && :{k}" for k in params))
    statement = statement.bindparams(*[bindparam(k, type_=postgresql.ARRAY(postgresql.TEXT)) for k in params])
    return session.execute(statement, params).scalar()


def holders(session: Session, classes: dict[str, tuple[int, ...]], terms: list[str], within: str):
    """{institution_id: set of `terms` it holds}, among the institutions holding `within`."""
    sqlite = is_sqlite(session)
    out: dict[str, set[str]] = {}
    for term in dict.fromkeys([within] + terms):
        if term not in classes or within not in classes:
            continue
        if sqlite:
            match = _fts_any(term, classes[term]) + ("" if term == within else " AND " + _fts_any(within, classes[within]))
            rows = session.execute(sql_text("SELECT r.institution_id FROM idx_fts JOIN idx_rank r ON r.doc = idx_fts.rowid "
                                            "WHERE idx_fts MATCH :m"), {"m": match}).scalars()
        else:
            rows = session.execute(sql_text("SELECT institution_id FROM idx_rank WHERE terms && :t AND terms && :w")
                                   .bindparams(bindparam("t", type_=postgresql.ARRAY(postgresql.TEXT)),
                                               bindparam("w", type_=postgresql.ARRAY(postgresql.TEXT))),
                                   {"t": [token(term, p) for p in classes[term]],
                                    "w": [token(within, p) for p in classes[within]]}).scalars()
        for institution_id in rows:
            out.setdefault(institution_id, set()).add(term)
    return out
