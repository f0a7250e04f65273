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
"""
from __future__ import annotations

import base64
import datetime as dt
import json

from sqlalchemy import exists, func, literal, select
from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed

from . import text
from .models import IndexedCapability, IndexedInstitution, IndexedQualification, SearchTerm

WEIGHTS = {"text": 0.55, "qualification": 0.2, "rating": 0.15, "on_time": 0.1}
MAX_TERM_WEIGHT = max(text.FIELD_WEIGHTS.values())
NEUTRAL = 0.5  # prior for an institution without ratings yet: neither rewarded nor punished
QUALIFICATION_TYPES = ("CMA", "CNAS", "LEGAL_METROLOGY", "CERT_BODY", "OTHER")


def _encode_cursor(score: float, institution_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, institution_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        score, institution_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return float(score), str(institution_id)
    except Exception:
        raise ValidationFailed("Invalid cursor / 游标无效", errors={"cursor": ["invalid"]}) from None


def _known_terms(session: Session, terms: list[str]) -> list[str]:
    return [t for t in terms
            if session.scalar(select(SearchTerm.term).where(SearchTerm.term == t).limit(1)) is not None]


def _capability_condition(params: dict):
    """Capability-level conditions that must hold together on one capability."""
    conditions = []
    if params.get("price_max") is not None:
        conditions.append(IndexedCapability.price_yuan <= params["price_max"])
    if params.get("cycle_max") is not None:
        conditions.append(IndexedCapability.cycle_working_days <= params["cycle_max"])
    if not conditions:
        return None, []
    if params.get("category"):
        conditions.append(IndexedCapability.category == params["category"])
    if params.get("item"):
        conditions.append(IndexedCapability.item_code == params["item"])
    key = text.standard_key(params.get("standard"))
    if key:
        conditions.append(IndexedCapability.standard_keys.like(f"% {key} %"))
    return exists().where(IndexedCapability.institution_id == IndexedInstitution.id, *conditions), conditions


def _qualification_condition(qualification: str, today: dt.date):
    return exists().where(
        IndexedQualification.institution_id == IndexedInstitution.id, IndexedQualification.type == qualification,
        IndexedQualification.status == "valid",
        (IndexedQualification.valid_to.is_(None)) | (IndexedQualification.valid_to >= today))


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


def _components(row, text_weight: float, n_words: int, today: dt.date) -> tuple[float, list[dict]]:
    text_part = min(1.0, text_weight / (n_words * MAX_TERM_WEIGHT)) if n_words else 0.0
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
    return round(sum(e["contribution"] for e in explain), 6), explain


def search(session: Session, params: dict, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    limit = int(params.get("limit") or 20)
    words = text.query_terms(params.get("q"))
    known = _known_terms(session, words) if words else []
    ignored = [w for w in words if w not in known]
    if words and not known:
        return {"items": [], "total": 0, "next_cursor": None, "query_terms": words, "ignored_terms": ignored}
    required = list(dict.fromkeys(known + facet_terms(params)))

    columns = (IndexedInstitution.id, IndexedInstitution.qualified_until, IndexedInstitution.rating,
               IndexedInstitution.on_time_rate)
    if required:
        query = (select(*columns, func.sum(SearchTerm.weight).label("text_weight"))
                 .join(SearchTerm, SearchTerm.institution_id == IndexedInstitution.id)
                 .where(SearchTerm.term.in_(required))
                 .group_by(*columns).having(func.count() == len(required)))
    else:
        query = select(*columns, literal(0.0).label("text_weight"))
    query = query.where(IndexedInstitution.status == "active")
    if params.get("rating_min") is not None:
        query = query.where(IndexedInstitution.rating >= params["rating_min"])
    if params.get("qualification"):
        query = query.where(_qualification_condition(params["qualification"], today))
    capability_exists, _ = _capability_condition(params)
    if capability_exists is not None:
        query = query.where(capability_exists)

    ranked = []
    for row in session.execute(query):
        score, explain = _components(row, row.text_weight or 0.0, len(known), today)
        ranked.append((score, row.id, explain))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    total = len(ranked)
    if params.get("cursor"):
        # Keyset, not offset: an institution indexed or removed meanwhile does not
        # shift the following pages by one.
        after = _decode_cursor(params["cursor"])
        ranked = [r for r in ranked if (-r[0], r[1]) > (-after[0], after[1])]
    page = ranked[:limit]
    items = _hydrate(session, page, known, params)
    next_cursor = _encode_cursor(page[-1][0], page[-1][1]) if len(ranked) > limit else None
    return {"items": items, "total": total, "next_cursor": next_cursor, "query_terms": words,
            "ignored_terms": ignored}


def capability_matches(cap: dict, words: list[str], params: dict) -> bool:
    if params.get("category") and cap.get("category") != params["category"]:
        return False
    if params.get("item") and str(cap.get("item_code") or "").lower() != str(params["item"]).lower():
        return False
    key = text.standard_key(params.get("standard")) if params.get("standard") else None
    keys = text.split_standards(cap.get("method_standard"))
    if key and key not in keys:
        return False
    if params.get("price_max") is not None and (cap.get("price_yuan") is None or cap["price_yuan"] > params["price_max"]):
        return False
    if params.get("cycle_max") is not None and (cap.get("cycle_working_days") is None
                                                or cap["cycle_working_days"] > params["cycle_max"]):
        return False
    if not words:
        return True
    terms = {"std:" + k for k in keys}
    for field, kind in (("item_name", "item"), ("product", "product"), ("parameter", "parameter")):
        terms.update(text.field_terms(cap.get(field), kind))
    terms.update(text.field_terms(text.CATEGORY_ZH.get(cap.get("category"), ""), "category"))
    return any(w in terms for w in words)


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


def _hydrate(session: Session, page, words, params, max_caps: int = 5) -> list[dict]:
    if not page:
        return []
    rows = {r.id: r for r in session.scalars(select(IndexedInstitution).where(
        IndexedInstitution.id.in_([p[1] for p in page])))}
    today = dt.date.today()
    items = []
    for score, institution_id, explain in page:
        row = rows[institution_id]
        snapshot = json.loads(row.snapshot or "{}")
        caps = [c for c in snapshot.get("capabilities") or [] if capability_matches(c, words, params)]
        items.append({**public_profile(snapshot, today), "institution_id": institution_id,
                      "rating": row.rating, "on_time_rate": row.on_time_rate,
                      "matched_capabilities": caps[:max_caps], "matched_capability_count": len(caps),
                      "score": score, "explain": explain})
    return items


def get_institution(session: Session, institution_id: str) -> dict | None:
    row = session.get(IndexedInstitution, institution_id)
    if row is None or row.status != "active":
        return None
    snapshot = json.loads(row.snapshot or "{}")
    return {**public_profile(snapshot, dt.date.today()), "capabilities": snapshot.get("capabilities") or [],
            "rating": row.rating, "on_time_rate": row.on_time_rate}


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
    rows = session.execute(select(SearchTerm.institution_id, SearchTerm.term, SearchTerm.weight)
                           .where(SearchTerm.term.in_([cat_term] + soft))).all()
    matched: dict[str, dict[str, float]] = {}
    for institution_id, term, weight in rows:
        matched.setdefault(institution_id, {})[term] = weight
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
