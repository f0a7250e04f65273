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

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from services.common.consumer import claim_event
from services.common.db import utcnow

from . import text
from .models import IndexedCapability, IndexedInstitution, IndexedQualification, SearchTerm

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
    current = session.get(IndexedInstitution, institution_id, with_for_update=True)
    if current is not None and revision <= current.revision:
        log.info("index: %s rev %s for %s is not newer than %s, skipped", envelope["type"], revision,
                 institution_id, current.revision)
        return "stale"
    if envelope["type"] == DEREGISTERED:
        _deregister(session, current, institution_id, revision, data)
    else:
        _index_profile(session, current, institution_id, revision, data["snapshot"])
    return "applied"


def _clear(session: Session, institution_id: str) -> None:
    for model in (SearchTerm, IndexedCapability, IndexedQualification):
        session.execute(delete(model).where(model.institution_id == institution_id))


def _deregister(session, current, institution_id, revision, data) -> None:
    # Leaves search and recommendation at once; the row stays, holding
    # the revision, so a late older snapshot cannot revive the institution.
    _clear(session, institution_id)
    if current is None:
        current = IndexedInstitution(id=institution_id, name="", kind="other", snapshot="{}")
        session.add(current)
    current.revision = revision
    current.status = "deregistered"
    current.deregistered_at = utcnow()
    current.updated_at = utcnow()


def institution_terms(profile: dict) -> dict[str, float]:
    """Every weighted term of an institution: profile, qualifications, capabilities, facets."""
    terms: dict[str, float] = {}

    def merge(found: dict[str, float]):
        for term, weight in found.items():
            if term not in terms or weight > terms[term]:
                terms[term] = weight
    merge(text.field_terms(profile.get("name"), "name"))
    merge(text.field_terms(text.KIND_ZH.get(profile.get("kind"), ""), "kind"))
    merge(text.field_terms(profile.get("region"), "region"))
    merge(text.field_terms(profile.get("park"), "region"))
    merge(text.field_terms(profile.get("address"), "address"))
    categories = set(profile.get("categories") or [])
    for q in profile.get("qualifications") or []:
        merge(text.field_terms(q.get("type"), "qualification"))
        merge(text.field_terms(q.get("scope"), "parameter"))
    for cap in profile.get("capabilities") or []:
        categories.add(cap.get("category"))
        merge(text.field_terms(cap.get("item_name"), "item"))
        merge(text.field_terms(cap.get("product"), "product"))
        merge(text.field_terms(cap.get("parameter"), "parameter"))
        for key in text.split_standards(cap.get("method_standard")):
            merge({"std:" + key: text.FIELD_WEIGHTS["standard"]})
        if cap.get("item_code"):
            merge({"item:" + str(cap["item_code"]).lower(): 0.0})
    for code in categories:
        if code:
            merge(text.field_terms(text.CATEGORY_ZH.get(code, ""), "category"))
            merge({"cat:" + code: 0.0})
    if profile.get("region"):
        merge({"region:" + profile["region"]: 0.0})
    if profile.get("park"):
        merge({"park:" + profile["park"]: 0.0})
    return {t[:120]: w for t, w in terms.items()}


def _index_profile(session, current, institution_id, revision, profile: dict) -> None:
    if profile.get("status", "active") != "active":
        # A snapshot of an inactive institution is not searchable either.
        _deregister(session, current, institution_id, revision, {})
        return
    _clear(session, institution_id)
    if current is None:
        current = IndexedInstitution(id=institution_id)
        session.add(current)
    today = dt.date.today()
    valid_until = [d for d in (_date(q.get("valid_to")) for q in profile.get("qualifications") or []
                               if q.get("status") == "valid") if d and d >= today]
    current.revision = revision
    current.status = "active"
    current.name = profile.get("name") or ""
    current.kind = profile.get("kind") or "other"
    current.region = profile.get("region")
    current.park = profile.get("park")
    current.qualified_until = max(valid_until) if valid_until else None
    current.snapshot = json.dumps(profile, ensure_ascii=False)
    current.updated_at = utcnow()
    current.deregistered_at = None
    session.flush()
    # Core bulk inserts, not ORM objects: an institution brings ~10 capabilities
    # and a few hundred terms, and per-object bookkeeping dominated catch-up time.
    rows = [dict(id=str(q["qualification_id"]), institution_id=institution_id, type=q.get("type") or "OTHER",
                 number=q.get("number"), scope=q.get("scope"), valid_to=_date(q.get("valid_to")),
                 status=q.get("status") or "valid") for q in profile.get("qualifications") or []]
    if rows:
        session.execute(insert(IndexedQualification), rows)
    rows = [dict(id=str(c["capability_id"]), institution_id=institution_id, category=c.get("category") or "other",
                 item_code=c.get("item_code"), item_name=c.get("item_name"), product=c.get("product"),
                 parameter=c.get("parameter"), method_standard=c.get("method_standard"),
                 standard_keys=" " + " ".join(text.split_standards(c.get("method_standard"))) + " ",
                 price_yuan=c.get("price_yuan"), cycle_working_days=c.get("cycle_working_days"),
                 qualification_id=c.get("qualification_id")) for c in profile.get("capabilities") or []]
    if rows:
        session.execute(insert(IndexedCapability), rows)
    rows = [dict(term=term, institution_id=institution_id, weight=weight)
            for term, weight in institution_terms(profile).items()]
    if rows:
        session.execute(insert(SearchTerm), rows)


def set_reputation(session: Session, institution_id: str, rating: float | None, on_time_rate: float | None) -> None:
    """Where service outcomes land (rating 0-5, on-time rate 0-1); no event feeds it yet."""
    row = session.get(IndexedInstitution, institution_id)
    if row is not None:
        row.rating = rating
        row.on_time_rate = on_time_rate
