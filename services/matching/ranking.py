"""One page of the search's matching set, scored and ordered in SQL, with its total.

The matching set: the candidates of the full-text index (postings.py: FTS5 on SQLite,
GIN on PostgreSQL) joined to the narrow idx_rank (whose rows are exactly the active
institutions), less those the row filters drop; each with its score in integer
micro-points (scoring.py): text relevance from the summed term points, the
qualification part from `qualified_until` against today, the reputation precomputed
at index time. The database orders by (score, id) and returns one page (keyset after
the cursor), so only that page reaches Python.

The row filters read idx_rank's filter facts (index.filter_facts): the latest valid_to
per qualification type, the lowest price and shortest cycle, the capabilities' one
category. Only where those do not decide (capabilities in several categories, or price,
cycle, item and standard combined, which must hold on one and the same capability)
an EXISTS over idx_capability's covering index runs, for the rows that got that far.

The statement is written as SQL text, not built as SQLAlchemy expressions: building and
cache-keying the expression tree for every query cost about as much as running it.
Its text depends only on the query's shape, so the driver's and SQLAlchemy's statement
caches hit for every query of a shape.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Date, Float, Integer, String, bindparam, text as sql_text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.common.money import to_money

from . import postings, text
from .models import MONEY, QUALIFIED_UNTIL_COLUMNS, RankedInstitution
from .scoring import QUALIFIED_MICRO, TEXT_MICRO, text_fraction

MAX_TERM_POINTS = int(round(max(text.FIELD_WEIGHTS.values()) * 100))
_TEXT_NUM, _TEXT_DEN = text_fraction(MAX_TERM_POINTS)
_TYPES = {"today": Date(), "rating_min": Float(), "price_max": MONEY, "cycle_max": Integer(), "category": String(),
          "item": String(), "standard_like": String(), "after_score": Integer(), "after_id": String(),
          "limit": Integer()}
_PARAMETER = re.compile(r"(?<!:):(\w+)")
# The idx_rank columns the score and the row filters read (PostgreSQL's hits carry them).
_PG_RANK_COLUMNS = ", ".join(c.name for c in RankedInstitution.__table__.columns if c.name != "doc")


def text_micro(points: int, n_words: int) -> int:
    """Text contribution in micro-points: round(0.55 * min(1, weight sum / (n_words *
    MAX_TERM_WEIGHT)), 6) from the summed points (hundredths), rounded half up, in
    integer arithmetic, as `_text_micro_sql` has the database compute it. (The float
    formula it replaces rounded an exact tie, possible only with 4+ query words, by
    float noise; this rounds it up.)"""
    numerator, denominator = _TEXT_NUM, _TEXT_DEN * n_words
    # floor((2 * num * points + den) / (2 * den)) == round half up of num * points / den
    return min(TEXT_MICRO, (2 * numerator * points + denominator) // (2 * denominator))


def _text_micro_sql(points: str, n_words: int) -> str:
    # `/` of integers is integer division on SQLite and PostgreSQL alike; the constants are
    # literals, not parameters, so no driver can type them as numeric.
    numerator, denominator = _TEXT_NUM, _TEXT_DEN * n_words
    k = f"(({points}) * {2 * numerator} + {denominator}) / {2 * denominator}"
    return f"CASE WHEN {k} >= {TEXT_MICRO} THEN {TEXT_MICRO} ELSE {k} END"


@dataclass
class Page:
    rows: list       # rows (id, points, score), best first, up to limit + 1
    total: int


def page(session: Session, params: dict, classes: dict, required: list[str], n_words: int, today: dt.date,
         limit: int, after: tuple[float, str] | None, micro: int) -> Page:
    """Up to limit + 1 rows after the cursor `after` (score, id), and the size of the whole set."""
    sqlite = postings.is_sqlite(session)
    values: dict = {"today": today, "limit": limit + 1}
    if required and sqlite:
        hits_sql, hits_params, n_scored = postings.scored_hits(sqlite, classes, required)
        values.update(hits_params)
        if n_scored > 1:
            # One row per scored term: an institution's points are their sum.
            hits_sql = f"SELECT key, sum(pts) AS pts FROM ({hits_sql}) AS scored GROUP BY key"
        # Each FTS5 hit is a rowid: its rank row is one integer-key lookup away.
        source, points = f"({hits_sql}) AS hits JOIN idx_rank r ON r.doc = hits.key", "hits.pts"
        text_part = _text_micro_sql(points, n_words) if n_words else "0"
    elif required:
        # PostgreSQL's hits are idx_rank rows already: they carry the rank columns, and joining
        # them back cost a hash over the whole table (7 ms of 12 at 10k institutions).
        hits_sql, hits_params, n_scored = postings.scored_hits(sqlite, classes, required, _PG_RANK_COLUMNS)
        values.update(hits_params)
        if n_scored > 1:
            # One row per scored term (their rank columns alike): the points are their sum.
            hits_sql = (f"SELECT {_PG_RANK_COLUMNS}, sum(pts) AS pts FROM ({hits_sql}) AS scored "
                        f"GROUP BY {_PG_RANK_COLUMNS}")
        source, points = f"({hits_sql}) AS r", "r.pts"
        text_part = _text_micro_sql(points, n_words) if n_words else "0"
    else:
        source, points, text_part = "idx_rank r", "0", "0"
    conditions = _row_conditions(params, values)
    sql = (f"SELECT r.institution_id AS id, {points} AS points, {text_part} + CASE WHEN r.qualified_until >= :today "
           f"THEN {QUALIFIED_MICRO} ELSE 0 END + r.reputation AS score FROM {source}"
           + (" WHERE " + " AND ".join(conditions) if conditions else ""))
    filtered = bool(conditions)
    if filtered:
        # The full-text index cannot count rows the filters drop: the count comes with the
        # page, as a window over the same matching set (the filters evaluated once).
        sql = f"SELECT id, points, score, count(*) OVER () AS total FROM ({sql}) AS ranked"
    paged = f"SELECT * FROM ({sql}) AS counted"
    if after:
        # Keyset, not offset: an institution indexed or removed meanwhile does not
        # shift the following pages by one.
        values["after_score"], values["after_id"] = int(round(after[0] * micro)), after[1]
        paged += " WHERE score < :after_score OR (score = :after_score AND id > :after_id)"
    paged += " ORDER BY score DESC, id LIMIT :limit"
    rows = _execute(session, paged, values, sqlite).all()
    if not filtered:
        # The full-text index counts its hits itself (every candidate has a rank row).
        total = (postings.count(session, classes, required) if required
                 else session.execute(sql_text("SELECT count(*) FROM idx_rank")).scalar())
    elif rows:
        total = rows[0].total
    else:
        total = _execute(session, f"SELECT count(*) FROM ({sql}) AS ranked", values, sqlite).scalar() if after else 0
    return Page(rows, total)


def _execute(session: Session, sql: str, values: dict, sqlite: bool):
    names = set(_PARAMETER.findall(sql))
    used = {k: v for k, v in values.items() if k in names}
    types = [bindparam(k, type_=_TYPES.get(k) or postgresql.ARRAY(postgresql.TEXT)) for k in used
             if k in _TYPES or not sqlite]
    return session.execute(sql_text(sql).bindparams(*types), used)


def _row_conditions(params: dict, values: dict) -> list[str]:
    conditions = []
    if params.get("rating_min") is not None:
        values["rating_min"] = params["rating_min"]
        conditions.append("r.rating >= :rating_min")
    if params.get("qualification"):
        # A currently valid qualification of that type: its latest valid_to, in the rank row.
        conditions.append(f"r.{QUALIFIED_UNTIL_COLUMNS[params['qualification']]} >= :today")
    capability = _capability_condition(params, values)
    if capability:
        conditions.append(capability)
    return conditions


def _capability_condition(params: dict, values: dict) -> str | None:
    """Price, cycle and the capability facets given with them, on one and the same capability.

    From the rank row's facts where they decide: the lowest price and shortest cycle are
    necessary conditions, and with only one of the two (and no item or standard) they are
    sufficient too, given the category when all the institution's capabilities share it.
    Otherwise the EXISTS over the institution's idx_capability rows (covering index)."""
    price, cycle = params.get("price_max"), params.get("cycle_max")
    if price is None and cycle is None:
        return None
    category, item = params.get("category"), params.get("item")
    key = text.standard_key(params.get("standard"))
    necessary, exact = [], ["c.institution_id = r.institution_id"]
    if price is not None:
        values["price_max"] = to_money(price)
        necessary.append("r.lowest_price_yuan <= :price_max")
        exact.append("c.price_yuan <= :price_max")
    if cycle is not None:
        values["cycle_max"] = int(cycle)
        necessary.append("r.shortest_cycle_working_days <= :cycle_max")
        exact.append("c.cycle_working_days <= :cycle_max")
    if category:
        values["category"] = category
        exact.append("c.category = :category")
    if item:
        values["item"] = item
        exact.append("c.item_code = :item")
    if key:
        values["standard_like"] = f"% {key} %"
        exact.append("c.standard_keys LIKE :standard_like")
    # SELECT 1, not SELECT *: SQLite then answers it from the covering index alone.
    exists = "EXISTS (SELECT 1 FROM idx_capability c WHERE " + " AND ".join(exact) + ")"
    if (price is None or cycle is None) and not item and not key:
        if not category:
            return " AND ".join(necessary)
        # One category for all: the cheapest (quickest) capability is of that category.
        necessary.append(f"(r.capability_category = :category OR (r.capability_category IS NULL AND {exists}))")
        return " AND ".join(necessary)
    return " AND ".join(necessary + [exists])
