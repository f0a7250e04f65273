"""Self-service search (R-6.2) and recommendation proposals (R-6.3.2.1) over the index.

Semantics, kept simple enough to explain to a user:
* every word of `q` that occurs anywhere in the index must match the institution
  (its name, kind, region, qualifications or any capability); words the index
  has never seen are reported back as `ignored_terms` instead of emptying the
  result;
* facets (category, item, region, park, standard) are indexed terms too, so all
  text and facet matching is the full-text index's (postings.py);
* price, cycle and the capability facets given with them must hold for one and
  the same capability; a qualification filter needs a currently valid one;
* the score is a weighted sum whose parts are returned as `explain`, ties
  broken by institution id, which makes the keyset cursor stable.

Performance: the score is computed in SQL, in integer micro-points (ranking.py,
scoring.py), and the database returns one page of the ordered matching set and its
exact total, so only that page reaches Python, where `explain` is built from the same
integers.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import json

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.common.errors import NotFound, ValidationFailed
from services.common.money import to_money

from . import card_cache, postings, ranking, text
from .contract.vocabulary import INDEX_ACTIVE, LOOKUPS
from .models import IndexedInstitution
from .ranking import MAX_TERM_POINTS
from .scoring import MICRO, NEUTRAL, WEIGHTS

MAX_TERM_WEIGHT = max(text.FIELD_WEIGHTS.values())


def _encode_cursor(score: float, institution_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, institution_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        score, institution_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return float(score), str(institution_id)
    except Exception:
        raise ValidationFailed("Invalid cursor / 游标无效", errors={"cursor": ["invalid"]}) from None


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


def _components(row, points: int, n_words: int, today: dt.date) -> tuple[float, list[dict]]:
    """`explain` of an institution with `points` summed term points; the parts add
    up to the score ranking.page computed in SQL for it."""
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
    # the float formula except for the half-up tie rule documented in ranking.text_micro).
    explain[0]["contribution"] = (ranking.text_micro(points, n_words) if n_words else 0) / MICRO
    return round(sum(e["contribution"] for e in explain), 6), explain


def search(session: Session, params: dict, today: dt.date | None = None) -> dict:
    with postings.search_plans(session):
        return _search(session, params, today or dt.date.today())


def _search(session: Session, params: dict, today: dt.date) -> dict:
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
    after = _decode_cursor(params["cursor"]) if params.get("cursor") else None
    found = ranking.page(session, params, classes, required, len(known), today, limit, after, MICRO)
    rows, total = found.rows, found.total
    page = rows[:limit]
    items = _hydrate(session, page, known, params, today)
    next_cursor = _encode_cursor(page[-1].score / MICRO, page[-1].id) if len(rows) > limit else None
    return {"items": items, "total": total, "next_cursor": next_cursor, "query_terms": words,
            "ignored_terms": ignored}


_CAPABILITY_FILTERS = ("category", "item", "standard", "price_max", "cycle_max")


def capability_matches(cap: dict, words: list[str], params: dict) -> bool:
    return _capability_matcher(words, params)(_capability_facts(cap))


def _capability_facts(cap: dict) -> tuple:
    """What matching a capability needs, worked out once per card (not per search)."""
    return (cap.get("category"), str(cap.get("item_code") or "").lower(), text.split_standards(cap.get("method_standard")),
            to_money(cap.get("price_yuan")), cap.get("cycle_working_days"),
            _capability_terms(cap.get("method_standard") or "", cap.get("item_name") or "", cap.get("product") or "",
                              cap.get("parameter") or "", cap.get("category") or ""))


def _capability_matcher(words: list[str], params: dict):
    """A capability (its `_capability_facts`) fits the filters and holds one of the words:
    the test built once per search, run for every capability on the page."""
    category, item = params.get("category"), str(params.get("item") or "").lower()
    key = text.standard_key(params.get("standard")) if params.get("standard") else None
    price = to_money(params.get("price_max")) if params.get("price_max") is not None else None
    cycle = params.get("cycle_max")
    filtered = any(params.get(k) is not None for k in _CAPABILITY_FILTERS)
    wanted = frozenset(words)

    def matches(facts) -> bool:
        cap_category, cap_item, keys, cap_price, cap_cycle, terms = facts
        if filtered and ((category and cap_category != category) or (item and cap_item != item)
                         or (key and key not in keys)
                         or (price is not None and (cap_price is None or cap_price > price))
                         or (cycle is not None and (cap_cycle is None or cap_cycle > cycle))):
            return False
        return not wanted or not wanted.isdisjoint(terms)
    return matches


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


def _card(snapshot: dict, today: dt.date) -> tuple:
    """card_cache's entry: public profile, capabilities, and their `_capability_facts`."""
    capabilities = snapshot.get("capabilities") or []
    return public_profile(snapshot, today), capabilities, [_capability_facts(c) for c in capabilities]


_INSTITUTION = IndexedInstitution.__table__
# Built once (with an expanding IN): SQLAlchemy's cache key for a new select() per search cost
# as much as running it.
_PAGE_ROWS = select(_INSTITUTION.c.id, _INSTITUTION.c.revision, _INSTITUTION.c.rating, _INSTITUTION.c.on_time_rate,
                    _INSTITUTION.c.qualified_until).where(_INSTITUTION.c.id.in_(bindparam("ids", expanding=True)))


def _hydrate(session: Session, page, words, params, today: dt.date, max_caps: int = 5) -> list[dict]:
    """Items for one page of ranking.page's rows: profile, matched capabilities, score and explain."""
    if not page:
        return []
    # Core rows of the columns needed, not ORM objects; the snapshots come from the card cache.
    rows = {r.id: r for r in session.connection().execute(_PAGE_ROWS, {"ids": [p.id for p in page]})}
    ids = [p.id for p in page if p.id in rows]  # one deregistered between the two reads (READ COMMITTED) is left out
    cards = card_cache.cards(session, ids, {i: rows[i].revision for i in ids}, dt.date.today(), _card)
    matches = _capability_matcher(words, params)
    items = []
    for ranked in page:
        row, card = rows.get(ranked.id), cards.get(ranked.id)
        if row is None or card is None:
            continue
        _, explain = _components(row, ranked.points, len(words), today)
        profile, capabilities, facts = card
        caps = [c for c, f in zip(capabilities, facts) if matches(f)]
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
    with postings.search_plans(session):
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
