"""Institutions and their public profile (R-6.1); history of an institution.

The public profile is the contract shared with matching: every change to it
raises `revision` by one and publishes the whole profile again, so a consumer
keeps the highest revision it saw and never needs to merge. Capabilities whose
qualification is not valid (expired, revoked) are left out of it: an
institution cannot offer what it is no longer qualified for.

Use cases on an institution live beside it: applications.py (onboarding),
qualifications.py (qualifications and capabilities), changes.py (R-6.1.3),
deregistration.py (R-6.1.4), sweep.py (expiry, overdue reviews).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.money import money_str, to_money
from services.common.outbox import record_event
from services.common.pii import mask_name

from . import access
from .journal import SOURCE, iso, record
from .models import (Application, CatalogItem, Capability, Institution, InstitutionEvent, Qualification, Window,
                     new_id)


def create_institution(session: Session, principal: dict | None, institution_id: str, info: dict,
                       qualifications: list[dict], capabilities: list[dict], at: dt.datetime | None = None,
                       application: Application | None = None) -> Institution:
    """An approved institution with its qualifications and capabilities; publishes institution.approved."""
    at = at or utcnow()
    inst = Institution(id=institution_id, name=info["name"], kind=info["kind"], uscc=info["uscc"],
                       region=info["region"], park=info.get("park"), address=info["address"],
                       legal_representative=info.get("legal_representative"), status="active", revision=1,
                       application_id=application.id if application else None,
                       applicant_user_id=application.applicant_user_id if application else None,
                       approved_at=at, updated_at=at)
    existing = session.scalars(select(Institution).where(Institution.uscc == inst.uscc)).first()
    if existing is not None:
        raise Conflict("An institution with this USCC exists / 该统一社会信用代码的机构已存在", code="institution_exists")
    session.add(inst)
    session.flush()
    refs = {}
    for qual in qualifications:
        row = Qualification(id=new_id(), institution_id=inst.id, type=qual["type"], number=qual["number"],
                            issuer=qual["issuer"], valid_from=dt.date.fromisoformat(qual["valid_from"]),
                            valid_to=dt.date.fromisoformat(qual["valid_to"]), scope=qual["scope"], status="valid",
                            certificate_sha256=(qual.get("certificate") or {}).get("file_id"))
        session.add(row)
        if qual.get("ref"):
            refs[qual["ref"]] = row.id
    session.flush()
    for cap in capabilities:
        session.add(Capability(id=new_id(), institution_id=inst.id, category=cap["category"],
                               item_code=cap["item_code"], product=cap["product"], parameter=cap["parameter"],
                               method_standard=cap["method_standard"], price_yuan=to_money(cap["price_yuan"]),
                               cycle_working_days=cap["cycle_working_days"],
                               qualification_id=refs.get(cap.get("qualification_ref")), created_at=at))
    session.flush()
    record(session, inst.id, principal, "approved", {"application_id": inst.application_id}, at)
    record_event(session, SOURCE, "institution.approved", inst.id, profile_event_data(session, inst))
    return inst


def get_institution_row(session: Session, institution_id: str) -> Institution:
    inst = session.get(Institution, str(institution_id))
    if inst is None:
        raise NotFound("No such institution / 机构不存在", code="institution_not_found")
    return inst


def qualification_view(q: Qualification) -> dict:
    return {"qualification_id": q.id, "type": q.type, "number": q.number, "issuer": q.issuer,
            "valid_from": q.valid_from.isoformat(), "valid_to": q.valid_to.isoformat(), "scope": q.scope,
            "status": q.status}


def capability_view(c: Capability, item_names: dict) -> dict:
    return {"capability_id": c.id, "category": c.category, "item_code": c.item_code,
            "item_name": item_names.get(c.item_code, c.item_code), "product": c.product, "parameter": c.parameter,
            "method_standard": c.method_standard, "price_yuan": money_str(c.price_yuan),
            "cycle_working_days": c.cycle_working_days, "qualification_id": c.qualification_id}


def offered_capabilities(session: Session, inst: Institution) -> list[Capability]:
    """Capabilities the institution may offer now: none backed by an expired or revoked qualification."""
    quals = {q.id: q for q in session.scalars(select(Qualification).where(Qualification.institution_id == inst.id))}
    caps = session.scalars(select(Capability).where(Capability.institution_id == inst.id)
                           .order_by(Capability.created_at, Capability.id))
    return [c for c in caps if c.qualification_id is None or quals[c.qualification_id].status == "valid"]


def profile(session: Session, inst: Institution) -> dict:
    """PUBLIC_PROFILE of the contract with matching; no personal data."""
    quals = session.scalars(select(Qualification).where(Qualification.institution_id == inst.id)
                            .order_by(Qualification.valid_from, Qualification.id))
    caps = offered_capabilities(session, inst)
    names = dict(session.execute(select(CatalogItem.code, CatalogItem.name_zh)).all())
    return {
        "institution_id": inst.id, "name": inst.name, "kind": inst.kind, "uscc": inst.uscc, "region": inst.region,
        "park": inst.park, "address": inst.address, "categories": sorted({c.category for c in caps}),
        "qualifications": [qualification_view(q) for q in quals],
        "capabilities": [capability_view(c, names) for c in caps],
        "status": "active" if inst.status == "active" else inst.status,
    }


def profile_event_data(session: Session, inst: Institution) -> dict:
    return {"institution_id": inst.id, "revision": inst.revision, "snapshot": profile(session, inst)}


def bump(session: Session, inst: Institution, event_type: str, at: dt.datetime | None = None) -> dict:
    inst.revision += 1
    inst.updated_at = at or utcnow()
    session.flush()
    return record_event(session, SOURCE, event_type, inst.id, profile_event_data(session, inst))


def _can_see_institution(principal: dict | None, inst: Institution) -> bool:
    if inst.status == "active":
        return True
    if access.is_staff_reader(principal):
        return True
    return bool(principal) and principal.get("role") == "institution" and principal.get("institution_id") == inst.id


def institution_view(session: Session, inst: Institution, principal: dict | None) -> dict:
    view = {**profile(session, inst), "revision": inst.revision}
    windows = session.scalars(select(Window).where(Window.institution_id == inst.id, Window.public))
    view["windows"] = [{"window_id": w.id, "code": w.code, "name": w.name} for w in windows]
    staff = access.is_staff_reader(principal) or (
        principal and principal.get("role") == "institution" and principal.get("institution_id") == inst.id)
    if staff:
        view.update(legal_representative=mask_name(inst.legal_representative),
                    deregistered_at=iso(inst.deregistered_at), deregistration_reason=inst.deregistration_reason,
                    deregistration_forced=inst.deregistration_forced, deregistration_late=inst.deregistration_late)
    return view


def visible_institution(session: Session, principal: dict | None, institution_id: str) -> Institution:
    inst = get_institution_row(session, institution_id)
    if not _can_see_institution(principal, inst):
        # Deregistered institutions leave public view at once.
        raise NotFound("No such institution / 机构不存在", code="institution_not_found")
    return inst


def get_institution(session: Session, principal: dict | None, institution_id: str) -> dict:
    return institution_view(session, visible_institution(session, principal, institution_id), principal)


def list_institutions(session: Session, principal: dict | None, category: str | None = None,
                      kind: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    query = select(Institution)
    if status and access.is_staff_reader(principal):
        query = query.where(Institution.status == status)
    elif not access.is_staff_reader(principal):
        query = query.where(Institution.status == "active")
    if kind:
        query = query.where(Institution.kind == kind)
    if category:
        query = query.where(Institution.id.in_(select(Capability.institution_id).where(Capability.category == category)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Institution.name, Institution.id).limit(limit).offset(offset))
    return {"items": [institution_view(session, i, principal) for i in rows], "total": total, "limit": limit,
            "offset": offset}


def list_capabilities(session: Session, principal: dict | None, institution_id: str) -> list[dict]:
    return get_institution(session, principal, institution_id)["capabilities"]


def list_qualifications(session: Session, principal: dict | None, institution_id: str) -> list[Qualification]:
    inst = visible_institution(session, principal, institution_id)
    return list(session.scalars(select(Qualification).where(Qualification.institution_id == inst.id)
                                .order_by(Qualification.valid_from, Qualification.id)))


def require_active(inst: Institution) -> None:
    if inst.status != "active":
        raise Conflict("The institution is deregistered / 机构已注销", code="institution_deregistered")


def active_own_institution(session: Session, principal: dict, institution_id: str) -> Institution:
    """The caller's own institution (any, for operators), which must be active to act on."""
    access.require_own_institution(principal, institution_id)
    inst = get_institution_row(session, institution_id)
    require_active(inst)
    return inst


def history(session: Session, principal: dict, institution_id: str) -> list[InstitutionEvent]:
    access.require_institution_reader(principal, institution_id)
    get_institution_row(session, institution_id)
    rows = session.scalars(select(InstitutionEvent).where(InstitutionEvent.institution_id == institution_id)
                           .order_by(InstitutionEvent.at, InstitutionEvent.id))
    return list(rows)
