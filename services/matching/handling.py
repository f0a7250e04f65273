"""The platform's actions on a demand (R-6.3.2): response, proposals, recommendation, referral,
engagement with an institution, follow-up. Each answers the demand as `demands.detail` shows it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from services.common import sla
from services.common.audit import audit
from services.common.db import utcnow
from services.common.outbox import record_event

from . import search
from .demands import (RECOMMENDATION_RULE, RESPONSE_RULE, SOURCE, SUBJECT, active_institution, add_entry,
                      clock_attribution, detail, ensure_open, iso, load_demand)
from .shown import Shown


def respond(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> Shown:
    demand = load_demand(session, principal, demand_id, for_update=True)
    ensure_open(demand)
    at = at or utcnow()
    add_entry(session, demand, principal, "response", {"message": data["message"]})
    sla.stop_clock(session, (RESPONSE_RULE, SUBJECT, demand.id), at=at, missing_ok=True,
                   **clock_attribution(session, demand, principal))
    if demand.status == "published":
        demand.status = "responded"
    record_event(session, SOURCE, "demand.responded", demand.id,
                 {"demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id, "responded_at": iso(at)})
    return detail(session, demand)


def proposals(session: Session, principal: dict, demand_id: str, limit: int = 10) -> dict:
    demand = load_demand(session, principal, demand_id)
    return {"demand_id": demand.id, "items": search.propose(session, demand, limit=limit)}


def recommend(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> Shown:
    """The operator's confirmed (possibly edited) list; only platform institutions (R-6.3.2.2)."""
    demand = load_demand(session, principal, demand_id, for_update=True)
    ensure_open(demand)
    at = at or utcnow()
    items = []
    for item in data["institutions"]:
        row = active_institution(session, item["institution_id"])
        items.append({"institution_id": row.id, "name": row.name, "reason": item.get("reason") or ""})
    add_entry(session, demand, principal, "recommendation", {"institutions": items, "note": data.get("note") or ""})
    # A recommendation answers the demand too: if nobody responded first, that clock stops now.
    sla.stop_clock(session, (RESPONSE_RULE, SUBJECT, demand.id), at=at, missing_ok=True,
                   **clock_attribution(session, demand, principal))
    sla.stop_clock(session, (RECOMMENDATION_RULE, SUBJECT, demand.id), at=at, missing_ok=True,
                   **clock_attribution(session, demand, principal))
    if demand.status in ("published", "responded"):
        demand.status = "recommended"
    record_event(session, SOURCE, "demand.recommended", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id,
        "institution_ids": [i["institution_id"] for i in items], "recommended_at": iso(at)})
    return detail(session, demand)


def refer(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> Shown:
    """No platform institution can serve: record the outside one and tell the enterprise (R-6.3.2.3)."""
    demand = load_demand(session, principal, demand_id, for_update=True)
    ensure_open(demand)
    at = at or utcnow()
    entry = add_entry(session, demand, principal, "referral", {
        "external_name": data["external_name"], "external_contact": data.get("external_contact") or "",
        "reason": data["reason"], "note": data.get("note") or ""})
    sla.stop_clock(session, (RESPONSE_RULE, SUBJECT, demand.id), at=at, missing_ok=True,
                   **clock_attribution(session, demand, principal))
    sla.stop_clock(session, (RECOMMENDATION_RULE, SUBJECT, demand.id), at=at, missing_ok=True,
                   **clock_attribution(session, demand, principal))
    demand.status = "referred"
    record_event(session, SOURCE, "demand.referred", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id, "referral_id": entry.id,
        "referred_at": iso(at)})
    audit(session, principal, "demand.refer", "demand", demand.id, owner_id=demand.enterprise_user_id,
          detail={"referral_id": entry.id})
    return detail(session, demand)


def engage(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> Shown:
    """The enterprise (or staff for it) connects with a platform institution (R-6.3.2.2)."""
    demand = load_demand(session, principal, demand_id, for_update=True)
    ensure_open(demand)
    row = active_institution(session, data["institution_id"])
    at = at or utcnow()
    entry = add_entry(session, demand, principal, "engagement", {
        "institution_id": row.id, "institution_name": row.name, "agreed_items": data["agreed_items"],
        "agreed_cycle_working_days": data.get("agreed_cycle_working_days"),
        "first_contact_at": data.get("first_contact_at"), "first_contact_notes": data.get("first_contact_notes") or ""})
    demand.institution_id = row.id
    demand.status = "connected"
    record_event(session, SOURCE, "demand.connected", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id, "institution_id": row.id,
        "engagement_id": entry.id, "connected_at": iso(at)})
    return detail(session, demand)


def follow_up(session: Session, principal: dict, demand_id: str, data: dict) -> Shown:
    """A problem, a coordination step or a progress note, until the service ends (R-6.3.2.4)."""
    demand = load_demand(session, principal, demand_id, for_update=True)
    ensure_open(demand)
    add_entry(session, demand, principal, "follow_up", {"topic": data.get("kind") or "note", "note": data["note"]})
    return detail(session, demand)
