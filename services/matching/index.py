"""Keeps the search index in step with the registry's public events.

`apply_registry_event` is the whole consumer: the nameko handlers and the tests
call it with the envelope as published. It claims the event id (a redelivery
changes nothing) and compares revisions (an older or equal revision, arriving
late or twice under a new id, changes nothing either). Everything happens in
the caller's transaction, so the claim and the index change commit together.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import bindparam, delete, insert, select, text as sql_text, update
from sqlalchemy.orm import Session

from services.common.consumer import claim_event
from services.common.db import utcnow
from services.common.money import to_money

from . import postings, text
from .models import (OPEN_ENDED, QUALIFIED_UNTIL_COLUMNS, IndexedCapability, IndexedInstitution, IndexedQualification,
                     RankedInstitution)
from .scoring import reputation_points

log = logging.getLogger(__name__)

CONSUMER = "matching.index"
PROFILE_EVENTS = ("institution.approved", "institution.changed", "capability.published")
DEREGISTERED = "institution.deregistered"
REGISTRY_EVENTS = PROFILE_EVENTS + (DEREGISTERED,)


def _date(value) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def apply_registry_event(session: Session, envelope: dict) -> str:
    """Apply one registry event; returns what happened: applied | duplicate | stale | ignored."""
    if envelope.get("type") not in REGISTRY_EVENTS:
        return "ignored"
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    data = envelope.get("data") or {}
    institution_id = str(data["institution_id"])
    revision = int(data["revision"])
    current = current_state(session, institution_id)
    if current is not None and revision <= current.revision:
        log.info("index: %s rev %s for %s is not newer than %s, skipped", envelope["type"], revision,
                 institution_id, current.revision)
        return "stale"
    if envelope["type"] == DEREGISTERED:
        _deregister(session, current, institution_id, revision, data)
    else:
        _index_profile(session, current, institution_id, revision, data["snapshot"])
    return "applied"


# Statements built once: built per event, SQLAlchemy's cache-key work for them cost
# as much as running them.
_DELETE_FTS = sql_text("DELETE FROM idx_fts WHERE rowid = (SELECT doc FROM idx_rank WHERE institution_id = :id)")
_DELETES = [delete(m.__table__).where(m.__table__.c.institution_id == bindparam("id"))
            for m in (IndexedCapability, IndexedQualification, RankedInstitution)]
_INSTITUTION = IndexedInstitution.__table__
_INSERT_INSTITUTION = insert(_INSTITUTION)
_UPDATE_INSTITUTION = update(_INSTITUTION).where(_INSTITUTION.c.id == bindparam("key"))  # SET: the params given
_CURRENT = (select(_INSTITUTION.c.id, _INSTITUTION.c.revision, _INSTITUTION.c.status, _INSTITUTION.c.rating,
                   _INSTITUTION.c.on_time_rate).where(_INSTITUTION.c.id == bindparam("id")).with_for_update())
_INSERT_RANK = insert(RankedInstitution.__table__)
_INSERT_PG_RANK = postings.PG_RANK.insert()
_INSERT_FTS = sql_text("INSERT INTO idx_fts (rowid, terms) VALUES (:doc, :terms)")
_DOC_OF = sql_text("SELECT rowid FROM idx_institution WHERE id = :id")
_INSERT_QUALIFICATIONS = insert(IndexedQualification.__table__)
_INSERT_CAPABILITIES = insert(IndexedCapability.__table__)


def _clear(session: Session, institution_id: str) -> None:
    connection = session.connection()
    if postings.is_sqlite(session):
        connection.execute(_DELETE_FTS, {"id": institution_id})
    for statement in _DELETES:
        connection.execute(statement, {"id": institution_id})


def current_state(session: Session, institution_id: str):
    """The index's row of an institution as a Core row (id, revision, status, rating, on_time_rate),
    locked on PostgreSQL; None if never seen. No ORM object: the index writes with Core statements."""
    return session.connection().execute(_CURRENT, {"id": institution_id}).first()


def _has_rows(current) -> bool:
    # Only an active institution has capability/qualification/term/rank rows: a first
    # sighting has none, and deregistering cleared them. Skipping the DELETEs for
    # the common catch-up case (a new institution) saves four statements per event.
    return current is not None and current.status == "active"


def _deregister(session, current, institution_id, revision, data) -> None:
    # Leaves search and recommendation at once; the row stays, holding
    # the revision, so a late older snapshot cannot revive the institution.
    if _has_rows(current):
        _clear(session, institution_id)
    now = utcnow()
    values = dict(revision=revision, status="deregistered", deregistered_at=now, updated_at=now)
    if current is None:
        session.connection().execute(_INSERT_INSTITUTION, dict(id=institution_id, name="", kind="other",
                                                               snapshot="{}", **values))
    else:
        session.connection().execute(_UPDATE_INSTITUTION, dict(key=institution_id, **values))


def institution_terms(profile: dict) -> dict[str, float]:
    """Every weighted term of an institution: profile, qualifications, capabilities, facets."""
    terms: dict[str, float] = {}

    def merge(found):
        # (term, weight) pairs, straight from the memoised analysis (no dict copies)
        for term, weight in found:
            if term not in terms or weight > terms[term]:
                terms[term] = weight
    field = text.field_term_items
    merge(field(profile.get("name"), "name"))
    merge(field(text.KIND_ZH.get(profile.get("kind"), ""), "kind"))
    merge(field(profile.get("region"), "region"))
    merge(field(profile.get("park"), "region"))
    merge(field(profile.get("address"), "address"))
    categories = set(profile.get("categories") or [])
    for q in profile.get("qualifications") or []:
        merge(field(q.get("type"), "qualification"))
        merge(field(q.get("scope"), "parameter"))
    for cap in profile.get("capabilities") or []:
        categories.add(cap.get("category"))
        merge(field(cap.get("item_name"), "item"))
        merge(field(cap.get("product"), "product"))
        merge(field(cap.get("parameter"), "parameter"))
        merge([("std:" + key, text.FIELD_WEIGHTS["standard"]) for key in text.split_standards(cap.get("method_standard"))])
        if cap.get("item_code"):
            merge([("item:" + str(cap["item_code"]).lower(), 0.0)])
    for code in categories:
        if code:
            merge(field(text.CATEGORY_ZH.get(code, ""), "category"))
            merge([("cat:" + code, 0.0)])
    if profile.get("region"):
        merge([("region:" + profile["region"], 0.0)])
    if profile.get("park"):
        merge([("park:" + profile["park"], 0.0)])
    return {t[:120]: w for t, w in terms.items()}


def term_points(weight: float) -> int:
    """A term weight in hundredths (the points of postings.py's tokens)."""
    return int(round(weight * 100))


def _index_profile(session, current, institution_id, revision, profile: dict) -> None:
    if profile.get("status", "active") != "active":
        # A snapshot of an inactive institution is not searchable either.
        _deregister(session, current, institution_id, revision, {})
        return
    today = dt.date.today()
    valid_until = [d for d in (_date(q.get("valid_to")) for q in profile.get("qualifications") or []
                               if q.get("status") == "valid") if d and d >= today]
    values = dict(revision=revision, status="active", name=profile.get("name") or "",
                  kind=profile.get("kind") or "other", region=profile.get("region"), park=profile.get("park"),
                  qualified_until=max(valid_until) if valid_until else None,
                  snapshot=json.dumps(profile, ensure_ascii=False), updated_at=utcnow(), deregistered_at=None)
    # Everything below goes through the session's connection as Core statements
    # (executemany for the child rows): an institution brings ~10 capabilities and
    # a few hundred terms, and ORM per-object/bulk bookkeeping dominated catch-up.
    connection = session.connection()
    sqlite = postings.is_sqlite(session)
    doc = None
    if current is None:
        result = connection.execute(_INSERT_INSTITUTION, dict(id=institution_id, **values))
        doc = result.lastrowid if sqlite else None
        rating = on_time_rate = None
    else:
        if _has_rows(current):
            _clear(session, institution_id)
        connection.execute(_UPDATE_INSTITUTION, dict(key=institution_id, **values))
        rating, on_time_rate = current.rating, current.on_time_rate
    if sqlite and doc is None:
        # The FTS5 rowid of an institution is its idx_institution rowid: stable, as the row is never deleted.
        doc = connection.execute(_DOC_OF, {"id": institution_id}).scalar_one()
    terms = {term: term_points(weight) for term, weight in institution_terms(profile).items()}
    qualifications = [dict(id=str(q["qualification_id"]), institution_id=institution_id, type=q.get("type") or "OTHER",
                           number=q.get("number"), scope=q.get("scope"), valid_to=_date(q.get("valid_to")),
                           status=q.get("status") or "valid") for q in profile.get("qualifications") or []]
    capabilities = [dict(id=str(c["capability_id"]), institution_id=institution_id,
                         category=c.get("category") or "other", item_code=c.get("item_code"),
                         item_name=c.get("item_name"), product=c.get("product"), parameter=c.get("parameter"),
                         method_standard=c.get("method_standard"),
                         standard_keys=" " + " ".join(text.split_standards(c.get("method_standard"))) + " ",
                         price_yuan=to_money(c.get("price_yuan")), cycle_working_days=c.get("cycle_working_days"),
                         qualification_id=c.get("qualification_id")) for c in profile.get("capabilities") or []]
    rank = dict(institution_id=institution_id, qualified_until=values["qualified_until"], rating=rating,
                reputation=reputation_points(rating, on_time_rate), doc=doc,
                **filter_facts(qualifications, capabilities))
    if sqlite:
        connection.execute(_INSERT_RANK, rank)
        connection.execute(_INSERT_FTS, {"doc": doc, "terms": postings.document(terms, True)})
    else:
        connection.execute(_INSERT_PG_RANK, dict(rank, terms=postings.document(terms, False)))
    if qualifications:
        connection.execute(_INSERT_QUALIFICATIONS, qualifications)
    if capabilities:
        connection.execute(_INSERT_CAPABILITIES, capabilities)


def filter_facts(qualifications: list[dict], capabilities: list[dict]) -> dict:
    """idx_rank's filter columns from an institution's idx_qualification and idx_capability rows
    (as inserted): what search.py's qualification and price/cycle filters need to know, so that
    they read the rank row instead of running an EXISTS per candidate."""
    facts: dict = dict.fromkeys(QUALIFIED_UNTIL_COLUMNS.values())
    for q in qualifications:
        column = QUALIFIED_UNTIL_COLUMNS.get(q["type"])
        if column and q["status"] == "valid":
            until = q["valid_to"] or OPEN_ENDED
            facts[column] = until if facts[column] is None else max(facts[column], until)
    prices = [c["price_yuan"] for c in capabilities if c["price_yuan"] is not None]
    cycles = [c["cycle_working_days"] for c in capabilities if c["cycle_working_days"] is not None]
    categories = {c["category"] for c in capabilities}
    facts.update(lowest_price_yuan=min(prices) if prices else None,
                 shortest_cycle_working_days=min(cycles) if cycles else None,
                 capability_category=categories.pop() if len(categories) == 1 else None)
    return facts


def set_reputation(session: Session, institution_id: str, rating: float | None, on_time_rate: float | None) -> None:
    """Where service outcomes land (rating 0-5, on-time rate 0-1): feedback's ratings (ratings.py)."""
    row = session.get(IndexedInstitution, institution_id)
    if row is not None:
        row.rating = rating
        row.on_time_rate = on_time_rate
        # Only an active institution has a rank row; a later profile event
        # recomputes it from rating/on_time_rate kept above.
        session.execute(update(RankedInstitution).where(RankedInstitution.institution_id == institution_id)
                        .values(rating=rating, reputation=reputation_points(rating, on_time_rate)))


if __name__ == "__main__":  # python -m services.matching.index rebuild
    import sys

    if sys.argv[1:2] != ["rebuild"]:
        sys.exit("usage: python -m services.matching.index rebuild [--page N]")
    from .rebuild import main
    main(sys.argv[2:])
