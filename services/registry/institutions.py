"""Institution onboarding, profile, changes and deregistration (R-6.1.1 to R-6.1.4).

Lifecycle: an applicant submits an application with the five attachments a)-e);
the 3-working-day review clock (`registry.application_review`) starts. An
operator approves, rejects (with reasons) or returns it for supplement; a
return pauses the clock (the applicant's time is not the platform's delay) and
the resubmission restarts it with the full limit (R-6.1.2). Approval creates
the institution with its qualifications and capabilities and publishes
`institution.approved` carrying the public profile.

A change of name, address or legal representative (R-6.1.3) goes through the
same steps under its own rule (`registry.change_review`): submitted, returned
for supplement (clock paused), resubmitted (clock restarted in full), approved
or rejected; every step is kept in the change's history and the institution's.

The public profile is the contract shared with matching: every change to it
raises `revision` by one and publishes the whole profile again, so a consumer
keeps the highest revision it saw and never needs to merge. Capabilities whose
qualification is not valid (expired, revoked) are left out of it: an
institution cannot offer what it is no longer qualified for.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import iso_utc
from services.common.money import money_str, to_money
from services.common.outbox import record_event
from services.common.pii import mask_name
from services.common.workdays import local_date

from . import access, files
from .models import (Application, CatalogItem, Capability, ChangeRequest, Institution, InstitutionEvent,
                     Notification, Qualification, Window, new_id)

SOURCE = "registry"
REVIEW_RULE = "registry.application_review"
# a change is "reviewed like an application": its own 3-working-day rule, restarted on resubmission.
CHANGE_REVIEW_RULE = "registry.change_review"
EXPIRY_NOTICE_DAYS = 30


# -- small helpers --------------------------------------------------------------------

def _today(at: dt.datetime | None) -> dt.date:
    return local_date(at or utcnow())


def _iso(value):
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    return value.isoformat()


def add_months(day: dt.date, months: int = 1) -> dt.date:
    """Same day n months later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        if day.day >= candidate:
            try:
                return dt.date(year, month, candidate)
            except ValueError:
                continue
    return dt.date(year, month, day.day)


def _late(event_day: dt.date, submitted_day: dt.date) -> bool:
    """More than one month between the event (change, closure) and telling the platform."""
    return submitted_day > add_months(event_day, 1)


def _history_append(target, entry: dict) -> None:
    entries = json.loads(target.history or "[]")
    entries.append(entry)
    target.history = json.dumps(entries, ensure_ascii=False)


def _record(session: Session, institution_id: str, principal: dict | None, action: str, detail=None,
            at: dt.datetime | None = None) -> None:
    session.add(InstitutionEvent(institution_id=institution_id, at=at or utcnow(),
                                 actor_id=str((principal or {}).get("user_id") or "system"), action=action,
                                 detail=json.dumps(detail, ensure_ascii=False) if detail is not None else None))


def notify(session: Session, user_id: str | None, kind: str, subject_id: str, title: str, body: str,
           at: dt.datetime | None = None) -> None:
    if user_id:
        session.add(Notification(id=new_id(), user_id=str(user_id), kind=kind, subject_id=str(subject_id),
                                 title=title, body=body, created_at=at or utcnow()))


# -- validation of a submitted application ---------------------------------------------

def _set_error(errors: dict, path: tuple, message: str) -> None:
    node = errors
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(path[-1], []).append(message)


def _check_files(session: Session, data: dict, errors: dict) -> dict[tuple, files.PreparedFile]:
    prepared = {}
    wanted = [(("attachments", name), data["attachments"][name])
              for name in ("application_form", "business_licence", "integrity_pledge")]
    wanted += [(("qualifications", i, "certificate"), q["certificate"]) for i, q in enumerate(data["qualifications"])]
    for path, attachment in wanted:
        result = files.check(attachment, session)
        if isinstance(result, str):
            _set_error(errors, path, result)
        else:
            prepared[path] = result
    return prepared


def _check_qualifications_and_capabilities(session: Session, data: dict, today: dt.date, errors: dict) -> None:
    refs = {}
    for i, qual in enumerate(data["qualifications"]):
        if dt.date.fromisoformat(qual["valid_to"]) < today:
            _set_error(errors, ("qualifications", i, "valid_to"),
                       f"资质证书已过期 ({qual['valid_to']}) / qualification expired on {qual['valid_to']}")
        if qual.get("ref"):
            refs[qual["ref"]] = i
    for i, cap in enumerate(data["capabilities"]):
        _check_item(session, cap, ("capabilities", i), errors)
        ref = cap.get("qualification_ref")
        if ref is not None and ref not in refs:
            _set_error(errors, ("capabilities", i, "qualification_ref"),
                       "未找到对应的资质证书 / no qualification with this ref")


def _check_item(session: Session, cap: dict, path: tuple, errors: dict) -> None:
    item = session.get(CatalogItem, cap["item_code"])
    if item is None:
        _set_error(errors, path + ("item_code",), "服务事项不存在 / unknown catalogue item")
    elif item.category_code != cap["category"]:
        _set_error(errors, path + ("category",), f"事项属于 {item.category_code} / item belongs to {item.category_code}")


def _validated(session: Session, data: dict, today: dt.date) -> dict[tuple, files.PreparedFile]:
    """Every check of an application; raises one ValidationFailed naming every bad field."""
    errors: dict = {}
    prepared = _check_files(session, data, errors)
    _check_qualifications_and_capabilities(session, data, today, errors)
    if errors:
        raise ValidationFailed("The application is incomplete or invalid / 申请材料不完整或无效", errors=errors)
    existing = session.scalars(select(Institution).where(Institution.uscc == data["institution"]["uscc"])).first()
    if existing is not None and existing.status == "active":
        raise Conflict("An institution with this USCC is already registered / 该统一社会信用代码的机构已入驻",
                       code="institution_exists", errors={"institution": {"uscc": ["already registered"]}})
    if existing is not None:
        # Its history stays under the same USCC; approval could never
        # create a second record, so say so now rather than after a review cycle.
        raise Conflict("This institution was deregistered; re-admission is handled by the platform operator / "
                       "该机构已注销，重新入驻请联系平台运营方",
                       code="institution_deregistered", errors={"institution": {"uscc": ["deregistered"]}})
    return prepared


def _stored_payload(session: Session, data: dict, prepared: dict) -> dict:
    """The application as kept: files by reference only, legal representative left out (kept encrypted)."""
    institution = {k: v for k, v in data["institution"].items() if k != "legal_representative"}
    attachments = {name: files.store(session, prepared[("attachments", name)])
                   for name in ("application_form", "business_licence", "integrity_pledge")}
    qualifications = []
    for i, qual in enumerate(data["qualifications"]):
        entry = {k: v for k, v in qual.items() if k != "certificate"}
        entry["certificate"] = files.store(session, prepared[("qualifications", i, "certificate")])
        qualifications.append(entry)
    return {"institution": institution, "attachments": attachments, "qualifications": qualifications,
            # Money kept in its JSON form ("650.50"): the payload is a JSON column.
            "capabilities": [{**c, "price_yuan": money_str(c["price_yuan"])} for c in data["capabilities"]]}


# -- applications ---------------------------------------------------------------------

def submit_application(session: Session, principal: dict, data: dict, at: dt.datetime | None = None) -> dict:
    principal = access.require_role(principal, access.APPLICANTS)
    at = at or utcnow()
    prepared = _validated(session, data, _today(at))
    pending = session.scalars(select(Application).where(
        Application.status.in_(("submitted", "returned")),
        Application.applicant_user_id == str(principal["user_id"]))).all()
    for other in pending:
        if json.loads(other.payload)["institution"]["uscc"] == data["institution"]["uscc"]:
            raise Conflict("An application for this institution is already open / 该机构已有在审申请",
                           code="application_open")
    app = Application(id=new_id(), institution_id=new_id(), applicant_user_id=str(principal["user_id"]),
                      status="submitted", name=data["institution"]["name"],
                      payload=json.dumps(_stored_payload(session, data, prepared), ensure_ascii=False),
                      legal_representative=data["institution"].get("legal_representative"), submissions=1,
                      submitted_at=at, history="[]")
    _history_append(app, {"at": _iso(at), "action": "submitted", "by": str(principal["user_id"])})
    session.add(app)
    session.flush()
    clock = sla.start_clock(session, REVIEW_RULE, "application", app.id, at=at)
    record_event(session, SOURCE, "institution.applied", app.institution_id, {
        "application_id": app.id, "institution_id": app.institution_id, "name": app.name,
        "kind": data["institution"]["kind"],
        "categories": sorted({c["category"] for c in data["capabilities"]}),
        "submitted_at": _iso(at), "review_due_at": _iso(clock.due_at), "resubmission": False})
    audit(session, principal, "application.submitted", "application", app.id, owner_id=principal["user_id"])
    return application_view(session, app, principal)


def _load_application(session: Session, application_id: str) -> Application:
    app = session.get(Application, str(application_id))
    if app is None:
        raise NotFound("No such application / 申请不存在", code="application_not_found")
    return app


def _require_can_read(principal: dict, app: Application) -> None:
    principal = access.require_principal(principal)
    if access.is_staff_reader(principal) or principal["user_id"] == app.applicant_user_id:
        return
    # Not 403: telling a stranger the application exists is already a leak.
    raise NotFound("No such application / 申请不存在", code="application_not_found")


def get_application(session: Session, principal: dict, application_id: str) -> dict:
    app = _load_application(session, application_id)
    _require_can_read(principal, app)
    return application_view(session, app, principal)


def list_applications(session: Session, principal: dict, status: str | None = None, limit: int = 50,
                      offset: int = 0) -> dict:
    principal = access.require_principal(principal)
    query = select(Application)
    if not access.is_staff_reader(principal):
        query = query.where(Application.applicant_user_id == str(principal["user_id"]))
    if status:
        query = query.where(Application.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Application.submitted_at, Application.id).limit(limit).offset(offset))
    return {"items": [application_view(session, a, principal, brief=True) for a in rows], "total": total,
            "limit": limit, "offset": offset}


def resubmit_application(session: Session, principal: dict, application_id: str, data: dict,
                         at: dt.datetime | None = None) -> dict:
    principal = access.require_principal(principal)
    app = _load_application(session, application_id)
    _require_can_read(principal, app)
    if principal["user_id"] != app.applicant_user_id:
        raise Forbidden("Only the applicant resubmits / 只有申请人可以重新提交", code="not_applicant")
    if app.status != "returned":
        raise Conflict(f"Application is {app.status}, not returned for supplement / 申请未被退回补正",
                       code="not_returned")
    at = at or utcnow()
    prepared = _validated(session, data, _today(at))
    app.payload = json.dumps(_stored_payload(session, data, prepared), ensure_ascii=False)
    app.name = data["institution"]["name"]
    app.legal_representative = data["institution"].get("legal_representative")
    app.status = "submitted"
    app.submissions += 1
    app.submitted_at = at
    app.reasons = None
    _history_append(app, {"at": _iso(at), "action": "resubmitted", "by": str(principal["user_id"])})
    # the review limit counts again in full from the resubmission.
    clock = sla.restart_clock(session, (REVIEW_RULE, "application", app.id), at=at)
    record_event(session, SOURCE, "institution.applied", app.institution_id, {
        "application_id": app.id, "institution_id": app.institution_id, "name": app.name,
        "kind": data["institution"]["kind"], "categories": sorted({c["category"] for c in data["capabilities"]}),
        "submitted_at": _iso(at), "review_due_at": _iso(clock.due_at), "resubmission": True})
    audit(session, principal, "application.resubmitted", "application", app.id, owner_id=app.applicant_user_id)
    return application_view(session, app, principal)


def review_application(session: Session, principal: dict, application_id: str, decision: str,
                       reasons: list[str] | None = None, at: dt.datetime | None = None) -> dict:
    principal = access.require_role(principal, access.OPERATORS)
    app = _load_application(session, application_id)
    if app.status != "submitted":
        raise Conflict(f"Application is {app.status}; only a submitted one can be reviewed / 申请当前不可审核",
                       code="not_reviewable")
    at = at or utcnow()
    reasons = list(reasons or [])
    app.decided_at, app.decided_by = at, str(principal["user_id"])
    app.reasons = json.dumps(reasons, ensure_ascii=False) if reasons else None
    if decision == "return":
        app.status = "returned"
        sla.pause_clock(session, (REVIEW_RULE, "application", app.id), at=at)
        record_event(session, SOURCE, "institution.returned", app.institution_id, {
            "application_id": app.id, "institution_id": app.institution_id, "reasons": reasons,
            "returned_at": _iso(at)})
        notify(session, app.applicant_user_id, "application.returned", app.id,
               "入驻申请需补充材料 / Application returned for supplement", "; ".join(reasons), at)
    elif decision == "reject":
        app.status = "rejected"
        sla.stop_clock(session, (REVIEW_RULE, "application", app.id), at=at, missing_ok=True)
        record_event(session, SOURCE, "institution.rejected", app.institution_id, {
            "application_id": app.id, "institution_id": app.institution_id, "reasons": reasons,
            "rejected_at": _iso(at)})
        notify(session, app.applicant_user_id, "application.rejected", app.id,
               "入驻申请未通过 / Application rejected", "; ".join(reasons), at)
    elif decision == "approve":
        payload = json.loads(app.payload)
        # Re-checked at decision time: a certificate may have expired while the application waited.
        for i, qual in enumerate(payload["qualifications"]):
            if dt.date.fromisoformat(qual["valid_to"]) < _today(at):
                raise ValidationFailed("A qualification expired while under review / 审核期间资质证书已过期",
                                       errors={"qualifications": {str(i): {"valid_to": ["expired"]}}})
        app.status = "approved"
        sla.stop_clock(session, (REVIEW_RULE, "application", app.id), at=at, missing_ok=True)
        inst = create_institution(session, principal, app.institution_id, {
            **payload["institution"], "legal_representative": app.legal_representative},
            payload["qualifications"], payload["capabilities"], at=at, application=app)
        notify(session, app.applicant_user_id, "application.approved", app.id,
               "入驻申请已通过 / Application approved", f"机构编号 / institution id: {inst.id}", at)
    _history_append(app, {"at": _iso(at), "action": decision, "by": str(principal["user_id"]), "reasons": reasons})
    audit(session, principal, f"application.{decision}", "application", app.id, owner_id=app.applicant_user_id,
          detail={"reasons": reasons})
    return application_view(session, app, principal)


def application_view(session: Session, app: Application, principal: dict | None, brief: bool = False) -> dict:
    payload = json.loads(app.payload)
    clock = session.scalars(select(sla.SlaClock).where(sla.SlaClock.rule == REVIEW_RULE,
                                                       sla.SlaClock.subject_type == "application",
                                                       sla.SlaClock.subject_id == app.id)
                            .order_by(sla.SlaClock.started_at.desc())).first()
    view = {
        "application_id": app.id, "institution_id": app.institution_id, "applicant_user_id": app.applicant_user_id,
        "status": app.status, "name": app.name, "submissions": app.submissions,
        "submitted_at": _iso(app.submitted_at), "decided_at": _iso(app.decided_at),
        "reasons": json.loads(app.reasons) if app.reasons else None,
        "review_clock": sla.clock_view(clock) if clock is not None else None,
    }
    if not brief:
        institution = dict(payload["institution"])
        institution["legal_representative"] = mask_name(app.legal_representative)
        view.update(institution=institution, attachments=payload["attachments"],
                    qualifications=payload["qualifications"], capabilities=payload["capabilities"],
                    history=json.loads(app.history or "[]"))
    return view


# -- institutions and their public profile -------------------------------------------------

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
    _record(session, inst.id, principal, "approved", {"application_id": inst.application_id}, at)
    record_event(session, SOURCE, "institution.approved", inst.id, profile_event_data(session, inst))
    return inst


def get_institution_row(session: Session, institution_id: str) -> Institution:
    inst = session.get(Institution, str(institution_id))
    if inst is None:
        raise NotFound("No such institution / 机构不存在", code="institution_not_found")
    return inst


def _qualification_view(q: Qualification) -> dict:
    return {"qualification_id": q.id, "type": q.type, "number": q.number, "issuer": q.issuer,
            "valid_from": q.valid_from.isoformat(), "valid_to": q.valid_to.isoformat(), "scope": q.scope,
            "status": q.status}


def _capability_view(c: Capability, item_names: dict) -> dict:
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
        "qualifications": [_qualification_view(q) for q in quals],
        "capabilities": [_capability_view(c, names) for c in caps],
        "status": "active" if inst.status == "active" else inst.status,
    }


def profile_event_data(session: Session, inst: Institution) -> dict:
    return {"institution_id": inst.id, "revision": inst.revision, "snapshot": profile(session, inst)}


def _bump(session: Session, inst: Institution, event_type: str, at: dt.datetime | None = None) -> dict:
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
                    deregistered_at=_iso(inst.deregistered_at), deregistration_reason=inst.deregistration_reason,
                    deregistration_forced=inst.deregistration_forced, deregistration_late=inst.deregistration_late)
    return view


def get_institution(session: Session, principal: dict | None, institution_id: str) -> dict:
    inst = get_institution_row(session, institution_id)
    if not _can_see_institution(principal, inst):
        # Deregistered institutions leave public view at once.
        raise NotFound("No such institution / 机构不存在", code="institution_not_found")
    return institution_view(session, inst, principal)


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


def list_qualifications(session: Session, principal: dict | None, institution_id: str) -> list[dict]:
    return get_institution(session, principal, institution_id)["qualifications"]


def _require_active(inst: Institution) -> None:
    if inst.status != "active":
        raise Conflict("The institution is deregistered / 机构已注销", code="institution_deregistered")


def add_qualification(session: Session, principal: dict, institution_id: str, data: dict,
                      at: dt.datetime | None = None) -> dict:
    access.require_own_institution(principal, institution_id)
    inst = get_institution_row(session, institution_id)
    _require_active(inst)
    at = at or utcnow()
    if dt.date.fromisoformat(data["valid_to"]) < _today(at):
        raise ValidationFailed("Qualification expired / 资质证书已过期",
                               errors={"valid_to": [f"expired on {data['valid_to']} / 已过期"]})
    prepared = files.check(data["certificate"], session)
    if isinstance(prepared, str):
        raise ValidationFailed("Invalid attachment / 附件无效", errors={"certificate": [prepared]})
    ref = files.store(session, prepared)
    row = Qualification(id=new_id(), institution_id=inst.id, type=data["type"], number=data["number"],
                        issuer=data["issuer"], valid_from=dt.date.fromisoformat(data["valid_from"]),
                        valid_to=dt.date.fromisoformat(data["valid_to"]), scope=data["scope"], status="valid",
                        certificate_sha256=ref["file_id"])
    session.add(row)
    session.flush()
    _record(session, inst.id, principal, "qualification_added", {"qualification_id": row.id}, at)
    _bump(session, inst, "institution.changed", at)
    return _qualification_view(row)


def add_capability(session: Session, principal: dict, institution_id: str, data: dict,
                   at: dt.datetime | None = None) -> dict:
    access.require_own_institution(principal, institution_id)
    inst = get_institution_row(session, institution_id)
    _require_active(inst)
    errors: dict = {}
    _check_item(session, data, (), errors)
    qual_id = data.get("qualification_id")
    if qual_id:
        qual = session.get(Qualification, qual_id)
        if qual is None or qual.institution_id != inst.id:
            _set_error(errors, ("qualification_id",), "不是本机构的资质 / not a qualification of this institution")
        elif qual.status != "valid" or qual.valid_to < _today(at):
            _set_error(errors, ("qualification_id",),
                       f"资质已{('过期' if qual.status != 'revoked' else '撤销')}，不能开展该服务 / qualification is "
                       f"{'revoked' if qual.status == 'revoked' else 'expired'}: this capability cannot be offered")
    if errors:
        raise ValidationFailed("The capability cannot be published / 服务能力无法发布", errors=errors)
    cap = Capability(id=new_id(), institution_id=inst.id, category=data["category"], item_code=data["item_code"],
                     product=data["product"], parameter=data["parameter"], method_standard=data["method_standard"],
                     price_yuan=to_money(data["price_yuan"]), cycle_working_days=data["cycle_working_days"],
                     qualification_id=qual_id or None, created_at=at or utcnow())
    session.add(cap)
    session.flush()
    _record(session, inst.id, principal, "capability_published", {"capability_id": cap.id}, at)
    _bump(session, inst, "capability.published", at)
    names = dict(session.execute(select(CatalogItem.code, CatalogItem.name_zh)).all())
    return _capability_view(cap, names)


# -- changes (R-6.1.3) ---------------------------------------------------------------------------

CHANGE_FIELDS = ("name", "address", "legal_representative")


def _change_clock(session: Session, change: ChangeRequest):
    return session.scalars(select(sla.SlaClock).where(sla.SlaClock.rule == CHANGE_REVIEW_RULE,
                                                      sla.SlaClock.subject_type == "institution_change",
                                                      sla.SlaClock.subject_id == change.id)
                           .order_by(sla.SlaClock.started_at.desc())).first()


def _change_view(session: Session, change: ChangeRequest, principal: dict | None) -> dict:
    before, after = json.loads(change.before), json.loads(change.after)
    for side in (before, after):
        if "legal_representative" in side:
            side["legal_representative"] = mask_name(side["legal_representative"])
    clock = _change_clock(session, change)
    return {"change_id": change.id, "institution_id": change.institution_id, "status": change.status,
            "changed_fields": change.changed_fields.split(","), "before": before, "after": after,
            "change_date": change.change_date.isoformat(), "late": change.late,
            "attachments": json.loads(change.attachments), "submitted_by": change.submitted_by,
            "submitted_at": _iso(change.submitted_at), "submissions": change.submissions,
            "first_submitted_at": _iso(change.first_submitted_at or change.submitted_at),
            "decided_by": change.decided_by, "decided_at": _iso(change.decided_at),
            "reasons": json.loads(change.reasons) if change.reasons else None,
            "history": json.loads(change.history or "[]"),
            "review_clock": sla.clock_view(clock) if clock is not None else None}


def _prepare_change(session: Session, inst: Institution, data: dict, first_submitted: dt.date) -> dict:
    """Check the attachments, then store them; the column values of a (re)submitted change."""
    errors: dict = {}
    wanted = [(("attachments", "business_licence"), data["attachments"]["business_licence"])]
    wanted += [(("attachments", "supporting", i), a) for i, a in enumerate(data["attachments"].get("supporting", []))]
    prepared = []
    for path, attachment in wanted:
        result = files.check(attachment, session)
        if isinstance(result, str):
            _set_error(errors, path, result)
        else:
            prepared.append((path, result))
    if errors:
        raise ValidationFailed("Invalid attachments / 附件无效", errors=errors)
    changed = [f for f in CHANGE_FIELDS if data.get(f)]
    before = {f: getattr(inst, f) for f in changed}
    after = {f: data[f] for f in changed}
    refs = {"business_licence": files.store(session, prepared[0][1]),
            "supporting": [files.store(session, p) for _, p in prepared[1:]]}
    change_date = dt.date.fromisoformat(data["change_date"])
    return {"before": json.dumps(before, ensure_ascii=False), "after": json.dumps(after, ensure_ascii=False),
            "changed_fields": ",".join(changed), "change_date": change_date,
            "late": _late(change_date, first_submitted), "attachments": json.dumps(refs)}


def _load_change(session: Session, institution_id: str, change_id: str) -> ChangeRequest:
    change = session.get(ChangeRequest, str(change_id))
    if change is None or change.institution_id != institution_id:
        raise NotFound("No such change / 变更申请不存在", code="change_not_found")
    return change


def submit_change(session: Session, principal: dict, institution_id: str, data: dict,
                  at: dt.datetime | None = None) -> dict:
    access.require_own_institution(principal, institution_id)
    inst = get_institution_row(session, institution_id)
    _require_active(inst)
    at = at or utcnow()
    values = _prepare_change(session, inst, data, _today(at))
    change = ChangeRequest(id=new_id(), institution_id=inst.id, status="submitted", **values,
                           submitted_by=str(principal["user_id"]), submitted_at=at, first_submitted_at=at,
                           submissions=1, history="[]")
    _history_append(change, {"at": _iso(at), "action": "submitted", "by": str(principal["user_id"]),
                             "fields": values["changed_fields"].split(",")})
    session.add(change)
    session.flush()
    sla.start_clock(session, CHANGE_REVIEW_RULE, "institution_change", change.id, at=at)
    _record(session, inst.id, principal, "change_submitted",
            {"change_id": change.id, "fields": values["changed_fields"].split(","), "late": change.late}, at)
    audit(session, principal, "institution.change_submitted", "institution", inst.id, detail={"change_id": change.id})
    return _change_view(session, change, principal)


def resubmit_change(session: Session, principal: dict, institution_id: str, change_id: str, data: dict,
                    at: dt.datetime | None = None) -> dict:
    """Supplemented change after a return: the review clock counts the full limit again (R-6.1.2/6.1.3)."""
    access.require_own_institution(principal, institution_id)
    inst = get_institution_row(session, institution_id)
    _require_active(inst)
    change = _load_change(session, institution_id, change_id)
    if change.status != "returned":
        raise Conflict(f"Change is {change.status}, not returned for supplement / 变更未被退回补正",
                       code="not_returned")
    at = at or utcnow()
    values = _prepare_change(session, inst, data, _today(change.first_submitted_at or change.submitted_at))
    for key, value in values.items():
        setattr(change, key, value)
    change.status = "submitted"
    change.submissions += 1
    change.submitted_at = at
    change.reasons = None
    _history_append(change, {"at": _iso(at), "action": "resubmitted", "by": str(principal["user_id"]),
                             "fields": values["changed_fields"].split(",")})
    sla.restart_clock(session, (CHANGE_REVIEW_RULE, "institution_change", change.id), at=at)
    _record(session, inst.id, principal, "change_resubmitted",
            {"change_id": change.id, "fields": values["changed_fields"].split(","), "submission": change.submissions},
            at)
    audit(session, principal, "institution.change_resubmitted", "institution", inst.id,
          detail={"change_id": change.id})
    return _change_view(session, change, principal)


_CHANGE_NOTICE = {"approved": ("机构信息变更已通过", "Change approved"),
                  "rejected": ("机构信息变更未通过", "Change rejected"),
                  "returned": ("机构信息变更需补充材料", "Change returned for supplement")}


def review_change(session: Session, principal: dict, institution_id: str, change_id: str, decision: str,
                  reasons: list[str] | None = None, at: dt.datetime | None = None) -> dict:
    access.require_role(principal, access.OPERATORS)
    change = _load_change(session, institution_id, change_id)
    if change.status != "submitted":
        raise Conflict(f"Change is {change.status}; only a submitted one can be reviewed / 变更当前不可审核",
                       code="not_reviewable")
    if decision not in ("approve", "reject", "return"):
        raise ValidationFailed("A change is approved, rejected or returned / 变更只能通过、驳回或退回补正",
                               errors={"decision": ["approve, reject or return"]})
    reasons = list(reasons or [])
    if decision in ("reject", "return") and not reasons:
        raise ValidationFailed("Give the reasons / 请说明理由", errors={"reasons": ["required to reject or return"]})
    inst = get_institution_row(session, institution_id)
    at = at or utcnow()
    change.decided_by, change.decided_at = str(principal["user_id"]), at
    change.reasons = json.dumps(reasons, ensure_ascii=False) if reasons else None
    clock_key = (CHANGE_REVIEW_RULE, "institution_change", change.id)
    if decision == "return":
        change.status = "returned"
        # The institution's time to supplement is not the platform's delay.
        sla.pause_clock(session, clock_key, at=at)
        _record(session, inst.id, principal, "change_returned", {"change_id": change.id}, at)
    elif decision == "approve":
        _require_active(inst)
        sla.stop_clock(session, clock_key, at=at, missing_ok=True)
        change.status = "approved"
        for key, value in json.loads(change.after).items():
            setattr(inst, key, value)
        public = [f for f in change.changed_fields.split(",") if f != "legal_representative"]
        _record(session, inst.id, principal, "change_approved",
                {"change_id": change.id, "fields": change.changed_fields.split(",")}, at)
        if public:
            # Only a change of the public profile is a new revision; the legal representative is not public.
            _bump(session, inst, "institution.changed", at)
    else:
        sla.stop_clock(session, clock_key, at=at, missing_ok=True)
        change.status = "rejected"
        _record(session, inst.id, principal, "change_rejected", {"change_id": change.id}, at)
    _history_append(change, {"at": _iso(at), "action": change.status, "by": str(principal["user_id"]),
                             "reasons": reasons})
    title_zh, title_en = _CHANGE_NOTICE[change.status]
    notify(session, change.submitted_by, f"change.{change.status}", change.id, f"{title_zh} / {title_en}",
           "; ".join(reasons), at)
    audit(session, principal, f"institution.change_{decision}", "institution", inst.id,
          detail={"change_id": change.id, "reasons": reasons})
    return _change_view(session, change, principal)


def get_change(session: Session, principal: dict, institution_id: str, change_id: str) -> dict:
    principal = access.require_principal(principal)
    if not access.is_staff_reader(principal):
        access.require_own_institution(principal, institution_id)
    return _change_view(session, _load_change(session, institution_id, change_id), principal)


def list_changes(session: Session, principal: dict, institution_id: str) -> list[dict]:
    principal = access.require_principal(principal)
    if not access.is_staff_reader(principal):
        access.require_own_institution(principal, institution_id)
    get_institution_row(session, institution_id)
    rows = session.scalars(select(ChangeRequest).where(ChangeRequest.institution_id == institution_id)
                           .order_by(ChangeRequest.submitted_at))
    return [_change_view(session, c, principal) for c in rows]


# -- deregistration (R-6.1.4) ------------------------------------------------------------------

def deregister(session: Session, principal: dict, institution_id: str, data: dict,
               at: dt.datetime | None = None) -> dict:
    principal = access.require_own_institution(principal, institution_id)
    inst = get_institution_row(session, institution_id)
    _require_active(inst)
    at = at or utcnow()
    forced = principal["role"] in access.OPERATORS
    late = False
    if forced:
        qual_id = data.get("qualification_id")
        if qual_id:
            qual = session.get(Qualification, qual_id)
            if qual is None or qual.institution_id != inst.id:
                raise ValidationFailed("Unknown qualification / 资质不存在",
                                       errors={"qualification_id": ["not a qualification of this institution"]})
            qual.status, qual.revoked_reason = "revoked", data["reason"]
    else:
        if not data.get("closed_on"):
            raise ValidationFailed("Give the closure date / 请填写关闭日期",
                                   errors={"closed_on": ["required for self-deregistration"]})
        late = _late(dt.date.fromisoformat(data["closed_on"]), _today(at))
    inst.status = "deregistered"
    inst.deregistered_at = at
    inst.deregistration_reason = data["reason"]
    inst.deregistration_forced = forced
    inst.deregistration_late = late
    inst.revision += 1
    inst.updated_at = at
    _record(session, inst.id, principal, "deregistered",
            {"forced": forced, "late": late, "reason": data["reason"], "closed_on": data.get("closed_on")}, at)
    record_event(session, SOURCE, "institution.deregistered", inst.id, {
        "institution_id": inst.id, "revision": inst.revision, "reason": data["reason"], "forced": forced,
        "deregistered_at": _iso(at)})
    audit(session, principal, "institution.deregistered", "institution", inst.id, detail={"forced": forced})
    return institution_view(session, inst, principal)


def history(session: Session, principal: dict, institution_id: str) -> list[dict]:
    principal = access.require_principal(principal)
    if not access.is_staff_reader(principal):
        access.require_own_institution(principal, institution_id)
    get_institution_row(session, institution_id)
    rows = session.scalars(select(InstitutionEvent).where(InstitutionEvent.institution_id == institution_id)
                           .order_by(InstitutionEvent.at, InstitutionEvent.id))
    return [{"at": _iso(r.at), "actor_id": r.actor_id, "action": r.action,
             "detail": json.loads(r.detail) if r.detail else None} for r in rows]


# -- notifications --------------------------------------------------------------------------------

def notifications(session: Session, principal: dict, limit: int = 50, offset: int = 0) -> dict:
    principal = access.require_principal(principal)
    query = select(Notification).where(Notification.user_id == str(principal["user_id"]))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Notification.created_at.desc(), Notification.id).limit(limit).offset(offset))
    return {"items": [{"id": n.id, "kind": n.kind, "subject_id": n.subject_id, "title": n.title, "body": n.body,
                       "created_at": _iso(n.created_at), "read": n.read_at is not None} for n in rows],
            "total": total, "limit": limit, "offset": offset}


# -- periodic sweep -------------------------------------------------------------------------------

def sweep(session: Session, now: dt.datetime | None = None) -> dict:
    """Mark late reviews overdue, warn of qualifications expiring within 30 days (once each),
    and expire the ones past their end date (their capabilities leave the public profile)."""
    now = now or utcnow()
    today = _today(now)
    overdue = sla.sweep_overdue(session, now)
    expiring = 0
    soon = today + dt.timedelta(days=EXPIRY_NOTICE_DAYS)
    for qual in session.scalars(select(Qualification).where(Qualification.status == "valid",
                                                            Qualification.valid_to <= soon,
                                                            Qualification.expiring_notified_at.is_(None))):
        inst = session.get(Institution, qual.institution_id)
        qual.expiring_notified_at = now
        if inst.status != "active" or qual.valid_to < today:
            continue
        record_event(session, SOURCE, "qualification.expiring", inst.id, {
            "institution_id": inst.id, "qualification_id": qual.id, "type": qual.type, "number": qual.number,
            "valid_to": qual.valid_to.isoformat(), "days_left": (qual.valid_to - today).days})
        notify(session, inst.applicant_user_id, "qualification.expiring", qual.id,
               "资质证书即将到期 / Qualification expiring", f"{qual.type} {qual.number} → {qual.valid_to}", now)
        expiring += 1
    expired_institutions = set()
    for qual in session.scalars(select(Qualification).where(Qualification.status == "valid",
                                                            Qualification.valid_to < today)):
        qual.status = "expired"
        expired_institutions.add(qual.institution_id)
        _record(session, qual.institution_id, None, "qualification_expired", {"qualification_id": qual.id}, now)
    for institution_id in sorted(expired_institutions):
        inst = session.get(Institution, institution_id)
        if inst.status == "active":
            _bump(session, inst, "institution.changed", now)
    return {"overdue": len(overdue), "expiring": expiring, "expired_institutions": len(expired_institutions)}
