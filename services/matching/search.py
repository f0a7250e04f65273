"""Self-service search (R-6.2) and recommendation proposals (R-6.3.2.1) over the index.

Semantics, kept simple enough to explain to a user:
* every word of `q` that occurs anywhere in the index must match the institution
  (its name, kind, region, qualifications or any capability); words the index
  has never seen are reported back as `ignored_terms` instead of emptying the
  result;
* facets (category, item, region, park, standard) are indexed terms too, so all
  text and facet matching is one indexed GROUP BY over `idx_term`;
* price, cycle and the capability facets given with them must hold for one and
  the same capability; a qualification filter needs a currently valid one;
* the score is a weighted sum whose parts are returned as `explain`, ties
  broken by institution id, which makes the keyset cursor stable.

Performance: the score is computed in SQL, in integer micro-points (see
scoring.py): text relevance from the summed `points` of the matched terms, the
qualification part from `qualified_until` against today, and the rating/on-time
part precomputed at index time (`idx_rank.reputation`). The database
orders by (score, id) and returns one page (LIMIT, keyset after the cursor), so
only that page reaches Python, where `explain` is built from the same integers.
`total` stays exact: it is a COUNT over the same matching set (no rows fetched).
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import json

from sqlalchemy import Integer, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from services.common.errors import NotFound, ValidationFailed
from services.common.money import to_money

from . import card_cache, postings, text
from .contract.vocabulary import INDEX_ACTIVE, LOOKUPS
from .models import QUALIFIED_UNTIL_COLUMNS, IndexedCapability, IndexedInstitution, RankedInstitution
from .scoring import MICRO, NEUTRAL, QUALIFIED_MICRO, TEXT_MICRO, WEIGHTS, text_fraction

MAX_TERM_WEIGHT = max(text.FIELD_WEIGHTS.values())
MAX_TERM_POINTS = int(round(MAX_TERM_WEIGHT * 100))
_TEXT_NUM, _TEXT_DEN = text_fraction(MAX_TERM_POINTS)


def _encode_cursor(score: float, institution_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, institution_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        score, institution_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return float(score), str(institution_id)
    except Exception:
        raise ValidationFailed("Invalid cursor / 游标无效", errors={"cursor": ["invalid"]}) from None


def _capability_condition(params: dict, rank=RankedInstitution):
    """Capability-level conditions that must hold together on one capability of the
    institution of the idx_rank row `rank`; None without a price or cycle filter.

    Answered from the rank row's filter facts (index.filter_facts) where they decide:
    the lowest price and shortest cycle are necessary conditions, and with only one of
    the two (and no item or standard) they are sufficient too, given the category when
    all the institution's capabilities share it. Only institutions with capabilities in
    several categories, or a filter combining price, cycle, item or standard, fall back
    to the EXISTS over their idx_capability rows (covering index)."""
    price, cycle = params.get("price_max"), params.get("cycle_max")
    if price is None and cycle is None:
        return None
    category, item = params.get("category"), params.get("item")
    key = text.standard_key(params.get("standard"))
    necessary, exact = [], [IndexedCapability.institution_id == rank.institution_id]
    if price is not None:
        necessary.append(rank.lowest_price_yuan <= to_money(price))
        exact.append(IndexedCapability.price_yuan <= to_money(price))
    if cycle is not None:
        necessary.append(rank.shortest_cycle_working_days <= cycle)
        exact.append(IndexedCapability.cycle_working_days <= cycle)
    if category:
        exact.append(IndexedCapability.category == category)
    if item:
        exact.append(IndexedCapability.item_code == item)
    if key:
        exact.append(IndexedCapability.standard_keys.like(f"% {key} %"))
    if (price is None or cycle is None) and not item and not key:
        if not category:
            return and_(*necessary)
        # One category for all: the cheapest (quickest) capability is of that category.
        return and_(*necessary, or_(rank.capability_category == category,
                                    and_(rank.capability_category.is_(None), _exists(*exact))))
    return and_(*necessary, _exists(*exact))


def _exists(*conditions):
    # EXISTS (SELECT 1 ...), not SELECT *: SQLite then answers it from the covering index alone.
    return select(_int(1)).where(*conditions).exists()


def _qualification_condition(qualification: str, today: dt.date, rank=RankedInstitution):
    """A currently valid qualification of that type: its latest valid_to, kept in the rank row."""
    return getattr(rank, QUALIFIED_UNTIL_COLUMNS[qualification]) >= today


def facet_terms(params: dict) -> list[str]:
    terms = []
    if params.get("category"):
        terms.append("cat:" + params["category"])
    if params.get("item"):
        terms.append("item:" + str(params["item"]).lower())
    if params.get("region"):
        terms.append("region:" + params["region"])
    if params.get("park"):
        terms.append("park:" + params["park"])
    if params.get("standard"):
        key = text.standard_key(params["standard"])
        if not key:
            raise ValidationFailed("Not a standard number / 标准号格式无效",
                                   errors={"standard": ["e.g. GB/T 2828.1-2012"]})
        terms.append("std:" + key)
    return terms


def _text_micro(points, n_words: int):
    """Text contribution in micro-points: round(0.55 * min(1, weight sum / (n_words *
    MAX_TERM_WEIGHT)), 6) from the summed points (hundredths), rounded half up, all
    in integer arithmetic so SQLite and PostgreSQL agree with Python. Works on a SQL
    expression and on a plain int alike. (The float formula it replaces rounded an
    exact tie, possible only with 4+ query words, by float noise; this rounds it up.)"""
    numerator, denominator = _TEXT_NUM, _TEXT_DEN * n_words
    # floor((2 * num * points + den) / (2 * den)) == round half up of num * points / den;
    # `//` renders as integer division on both databases (all operands are integers).
    if isinstance(points, int):
        return min(TEXT_MICRO, (2 * numerator * points + denominator) // (2 * denominator))
    k = (points * _int(2 * numerator) + _int(denominator)) // _int(2 * denominator)
    return case((k >= _int(TEXT_MICRO), _int(TEXT_MICRO)), else_=k)


def _int(value: int):
    # Constants inlined as integer literals, not bound parameters: no driver can
    # then type them as numeric, which would turn the integer division into a real one.
    return literal_column(str(int(value)), Integer)


def _components(row, points: int, n_words: int, today: dt.date) -> tuple[float, list[dict]]:
    """`explain` of an institution with `points` summed term points; the parts add
    up to the score `_ranked` computed in SQL for it."""
    text_part = min(1.0, points / (n_words * MAX_TERM_POINTS)) if n_words else 0.0
    qualified = row.qualified_until is not None and row.qualified_until >= today
    rating = row.rating / 5.0 if row.rating is not None else NEUTRAL
    on_time = row.on_time_rate if row.on_time_rate is not None else NEUTRAL
    parts = [
        ("text", text_part, "文本相关度 / text relevance" if n_words else "无关键词 / no keywords"),
        ("qualification", 1.0 if qualified else 0.0,
         f"资质有效至 {row.qualified_until} / qualified until" if qualified else "无有效资质 / no valid qualification"),
        ("rating", rating, f"评分 {row.rating:.1f}/5" if row.rating is not None else "暂无评价，按中性计 / no ratings yet"),
        ("on_time", on_time, f"按时完成率 {row.on_time_rate:.0%}" if row.on_time_rate is not None
         else "暂无记录，按中性计 / no record yet"),
    ]
    explain = [{"factor": f, "value": round(v, 4), "weight": WEIGHTS[f], "contribution": round(WEIGHTS[f] * v, 6),
                "note": note} for f, v, note in parts]
    # The text contribution is the integer the database ranked by (identical to
    # the float formula except for the half-up tie rule documented in _text_micro).
    explain[0]["contribution"] = (_text_micro(points, n_words) if n_words else 0) / MICRO
    return round(sum(e["contribution"] for e in explain), 6), explain


def _ranked(session: Session, params: dict, classes: dict, required: list[str], n_words: int, today: dt.date):
    """The matching institutions with their score (micro-points), as a subquery:
    id, qualified_until, points (summed term points), score.

    The candidates and their points come from the full-text index (postings.py:
    FTS5 on SQLite, GIN on PostgreSQL); the score is added up over the narrow
    idx_rank (whose rows are exactly the active institutions), never idx_institution
    with its snapshots."""
    rank = RankedInstitution
    if required:
        hits, n_scored = postings.scored_hits(session, classes, required)
        hits = hits.subquery("hits")
        if n_scored > 1:
            # One row per scored term: an institution's points are their sum.
            hits = select(hits.c.key, func.sum(hits.c.pts).label("pts")).group_by(hits.c.key).subquery("matched")
        points = hits.c.pts
        text_micro = _text_micro(points, n_words) if n_words else _int(0)
        key = getattr(rank, postings.key_column(postings.is_sqlite(session)))
        query = select(rank.institution_id.label("id")).join_from(hits, rank, key == hits.c.key)
    else:
        points = text_micro = _int(0)
        query = select(rank.institution_id.label("id"))
    qualified = case((rank.qualified_until >= today, _int(QUALIFIED_MICRO)), else_=_int(0))
    score = text_micro + qualified + rank.reputation
    query = query.add_columns(rank.qualified_until, points.label("points"), score.label("score"))
    if params.get("rating_min") is not None:
        query = query.where(rank.rating >= params["rating_min"])
    if params.get("qualification"):
        query = query.where(_qualification_condition(params["qualification"], today))
    capability = _capability_condition(params)
    if capability is not None:
        query = query.where(capability)
    return query.subquery("ranked")


def _has_row_filters(params: dict) -> bool:
    """Conditions checked on idx_rank/idx_capability rows, not in the full-text index."""
    return any(params.get(k) is not None for k in ("rating_min", "qualification", "price_max", "cycle_max"))


def search(session: Session, params: dict, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    limit = int(params.get("limit") or 20)
    words = text.query_terms(params.get("q"))
    facets = facet_terms(params)
    classes = postings.present_classes(session, list(dict.fromkeys(words + facets)))
    known = [w for w in words if w in classes]
    ignored = [w for w in words if w not in classes]
    empty = {"items": [], "total": 0, "next_cursor": None, "query_terms": words, "ignored_terms": ignored}
    if (words and not known) or any(f not in classes for f in facets):
        return empty  # a facet no institution has: nothing matches
    required = list(dict.fromkeys(known + facets))
    ranked = _ranked(session, params, classes, required, len(known), today)

    after = _decode_cursor(params["cursor"]) if params.get("cursor") else None
    filtered = _has_row_filters(params)
    if filtered:
        # The full-text index cannot count rows the filters drop: the count comes with the
        # page, as a window over the same matching set (one evaluation of the filters).
        ranked = select(ranked, func.count().over().label("total")).subquery("counted")
    page_query = select(ranked).order_by(ranked.c.score.desc(), ranked.c.id).limit(limit + 1)
    if after:
        # Keyset, not offset: an institution indexed or removed meanwhile does not
        # shift the following pages by one.
        score = int(round(after[0] * MICRO))
        page_query = page_query.where(or_(ranked.c.score < score, and_(ranked.c.score == score,
                                                                        ranked.c.id > after[1])))
    rows = session.execute(page_query).all()
    if filtered:
        total = rows[0].total if rows else (session.scalar(select(func.count()).select_from(ranked)) if after else 0)
    else:
        # The full-text index counts its hits itself (every candidate has a rank row).
        total = (postings.count(session, classes, required) if required
                 else session.scalar(select(func.count()).select_from(RankedInstitution)))
    page = rows[:limit]
    items = _hydrate(session, page, known, params, today)
    next_cursor = _encode_cursor(page[-1].score / MICRO, page[-1].id) if len(rows) > limit else None
    return {"items": items, "total": total, "next_cursor": next_cursor, "query_terms": words,
            "ignored_terms": ignored}


_CAPABILITY_FILTERS = ("category", "item", "standard", "price_max", "cycle_max")


def capability_matches(cap: dict, words: list[str], params: dict) -> bool:
    if any(params.get(k) is not None for k in _CAPABILITY_FILTERS) and not _capability_fits(cap, params):
        return False
    if not words:
        return True
    terms = _capability_terms(cap.get("method_standard") or "", cap.get("item_name") or "", cap.get("product") or "",
                              cap.get("parameter") or "", cap.get("category") or "")
    return any(w in terms for w in words)


def _capability_fits(cap: dict, params: dict) -> bool:
    if params.get("category") and cap.get("category") != params["category"]:
        return False
    if params.get("item") and str(cap.get("item_code") or "").lower() != str(params["item"]).lower():
        return False
    key = text.standard_key(params.get("standard")) if params.get("standard") else None
    keys = text.split_standards(cap.get("method_standard"))
    if key and key not in keys:
        return False
    if params.get("price_max") is not None and (cap.get("price_yuan") is None
                                                or to_money(cap["price_yuan"]) > to_money(params["price_max"])):
        return False
    if params.get("cycle_max") is not None and (cap.get("cycle_working_days") is None
                                                or cap["cycle_working_days"] > params["cycle_max"]):
        return False
    return True


# Memoised: every page shows up to 20 institutions x their capabilities, and the
# same capability texts recur across institutions.
@functools.lru_cache(maxsize=50_000)
def _capability_terms(method_standard: str, item_name: str, product: str, parameter: str,
                      category: str) -> frozenset[str]:
    terms = {"std:" + k for k in text.split_standards(method_standard)}
    for value, kind in ((item_name, "item"), (product, "product"), (parameter, "parameter")):
        terms.update(term for term, _ in text.field_term_items(value, kind))
    terms.update(term for term, _ in text.field_term_items(text.CATEGORY_ZH.get(category, ""), "category"))
    return frozenset(terms)


def public_profile(snapshot: dict, today: dt.date) -> dict:
    quals = []
    for q in snapshot.get("qualifications") or []:
        valid_to = q.get("valid_to")
        valid = q.get("status") == "valid" and (not valid_to or str(valid_to)[:10] >= today.isoformat())
        quals.append({k: q.get(k) for k in ("qualification_id", "type", "number", "issuer", "valid_from", "valid_to",
                                            "scope", "status")} | {"currently_valid": valid})
    return {"institution_id": snapshot.get("institution_id"), "name": snapshot.get("name"),
            "kind": snapshot.get("kind"), "region": snapshot.get("region"), "park": snapshot.get("park"),
            "address": snapshot.get("address"), "categories": snapshot.get("categories") or [],
            "qualifications": quals}


def _hydrate(session: Session, page, words, params, today: dt.date, max_caps: int = 5) -> list[dict]:
    """Items for one page of `_ranked` rows: profile, matched capabilities, score and explain."""
    if not page:
        return []
    inst = IndexedInstitution
    # Core rows of the columns needed, not ORM objects; the snapshots come from the card cache.
    rows = {r.id: r for r in session.execute(select(
        inst.id, inst.revision, inst.rating, inst.on_time_rate, inst.qualified_until).where(
        inst.id.in_([p.id for p in page])))}
    ids = [p.id for p in page if p.id in rows]  # one deregistered between the two reads (READ COMMITTED) is left out
    cards = card_cache.cards(session, ids, {i: rows[i].revision for i in ids}, dt.date.today(), public_profile)
    items = []
    for ranked in page:
        row, card = rows.get(ranked.id), cards.get(ranked.id)
        if row is None or card is None:
            continue
        _, explain = _components(row, ranked.points, len(words), today)
        profile, capabilities = card
        caps = [c for c in capabilities if capability_matches(c, words, params)]
        items.append({**profile, "institution_id": ranked.id,
                      "rating": row.rating, "on_time_rate": row.on_time_rate,
                      "matched_capabilities": caps[:max_caps], "matched_capability_count": len(caps),
                      "score": ranked.score / MICRO, "explain": explain})
    return items


def get_institution(session: Session, institution_id: str) -> dict:
    row = session.get(IndexedInstitution, str(institution_id))
    if row is None or row.status != INDEX_ACTIVE:
        raise NotFound("No such institution on the platform / 平台无此机构", code="institution_not_found")
    snapshot = json.loads(row.snapshot or "{}")
    return {**public_profile(snapshot, dt.date.today()), "capabilities": snapshot.get("capabilities") or [],
            "rating": row.rating, "on_time_rate": row.on_time_rate}


# -- operations (contract handlers) ---------------------------------------------------------
def search_institutions(session: Session, query: dict) -> dict:
    return search(session, query)


def lookup(session: Session, query: dict, kind: str) -> dict:
    """A clause-5 lookup: the search with its preset (contract.vocabulary.LOOKUPS)."""
    return {"lookup": kind, **search(session, {**query, **LOOKUPS[kind]})}


# -- proposals for a demand -------------------------------------------------------------
PROPOSAL_WEIGHTS = {"text": 0.35, "standard": 0.2, "item": 0.1, "region": 0.1, "qualification": 0.15, "rating": 0.1}


def propose(session: Session, demand, limit: int = 10, today: dt.date | None = None) -> list[dict]:
    """Platform institutions for a demand, best first, each with why (R-6.3.2.1/2).

    The category must fit; product, parameter, item, standard and region add up;
    a valid qualification and the rating weigh in. Only indexed (active) institutions.
    """
    today = today or dt.date.today()
    words = text.query_terms(" ".join(filter(None, (demand.product, demand.parameter))))
    std_key = text.standard_key(demand.standard) if demand.standard else None
    cat_term = "cat:" + demand.category
    soft = list(dict.fromkeys(words + (["std:" + std_key] if std_key else [])
                              + (["item:" + demand.item_code.lower()] if demand.item_code else [])
                              + (["region:" + demand.region] if demand.region else [])))
    classes = postings.present_classes(session, [cat_term] + soft)
    matched = postings.holders(session, classes, soft, within=cat_term)
    candidates = {i: t for i, t in matched.items() if cat_term in t}
    if not candidates:
        return []
    institutions = {r.id: r for r in session.scalars(select(IndexedInstitution).where(
        IndexedInstitution.id.in_(list(candidates)), IndexedInstitution.status == "active"))}
    proposals = []
    for institution_id, terms in candidates.items():
        row = institutions.get(institution_id)
        if row is None:
            continue
        word_hits = [w for w in words if w in terms]
        qualified = row.qualified_until is not None and row.qualified_until >= today
        parts = {
            "text": (len(word_hits) / len(words) if words else 0.0, f"命中 {'、'.join(word_hits) or '无'}"),
            "standard": (1.0 if std_key and "std:" + std_key in terms else 0.0,
                         f"方法标准 {demand.standard}" if std_key else "需求未指定标准"),
            "item": (1.0 if demand.item_code and "item:" + demand.item_code.lower() in terms else 0.0, "服务事项"),
            "region": (1.0 if demand.region and "region:" + demand.region in terms else 0.0, "同一区域 / same region"),
            "qualification": (1.0 if qualified else 0.0, f"资质有效至 {row.qualified_until}" if qualified else "无有效资质"),
            "rating": (row.rating / 5.0 if row.rating is not None else NEUTRAL,
                       "评分" if row.rating is not None else "暂无评价，按中性计"),
        }
        explain = [{"factor": f, "value": round(v, 4), "weight": PROPOSAL_WEIGHTS[f],
                    "contribution": round(PROPOSAL_WEIGHTS[f] * v, 6), "note": note} for f, (v, note) in parts.items()]
        score = round(sum(e["contribution"] for e in explain), 6)
        snapshot = json.loads(row.snapshot or "{}")
        caps = [c for c in snapshot.get("capabilities") or []
                if c.get("category") == demand.category and capability_matches(c, word_hits, {})]
        proposals.append({"institution_id": institution_id, "name": row.name, "kind": row.kind, "region": row.region,
                          "score": score, "explain": explain, "capabilities": caps[:5]})
    proposals.sort(key=lambda p: (-p["score"], p["institution_id"]))
    return proposals[:limit]
