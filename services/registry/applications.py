"""Onboarding applications (R-6.1.1, R-6.1.2).

An applicant submits an application with the five attachments a)-e); the
3-working-day review clock (`registry.application_review`) starts. An operator
approves, rejects (with reasons) or returns it for supplement; a return pauses
the clock (the applicant's time is not the platform's delay) and the
resubmission restarts it with the full limit (R-6.1.2). Approval creates the
institution with its qualifications and capabilities (institutions.py), which
publishes `institution.approved` carrying the public profile.
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
from services.common.money import money_str
from services.common.outbox import record_event
from services.common.pii import mask_name

from . import access, files
from .institutions import create_institution
from .journal import SOURCE, history_append, iso, local_day, notify, set_error
from .models import Application, Institution, new_id
from .qualifications import check_item

REVIEW_RULE = "registry.application_review"


def _check_files(session: Session, data: dict, errors: dict) -> dict[tuple, files.PreparedFile]:
    prepared = {}
    wanted = [(("attachments", name), data["attachments"][name])
              for name in ("application_form", "business_licence", "integrity_pledge")]
    wanted += [(("qualifications", i, "certificate"), q["certificate"]) for i, q in enumerate(data["qualifications"])]
    for path, attachment in wanted:
        result = files.check(attachment, session)
        if isinstance(result, str):
            set_error(errors, path, result)
        else:
            prepared[path] = result
    return prepared


def _check_qualifications_and_capabilities(session: Session, data: dict, today: dt.date, errors: dict) -> None:
    refs = {}
    for i, qual in enumerate(data["qualifications"]):
        if dt.date.fromisoformat(qual["valid_to"]) < today:
            set_error(errors, ("qualifications", i, "valid_to"),
                       f"资质证书已过期 ({qual['valid_to']}) / qualification expired on {qual['valid_to']}")
        if qual.get("ref"):
            refs[qual["ref"]] = i
    for i, cap in enumerate(data["capabilities"]):
        check_item(session, cap, ("capabilities", i), errors)
        ref = cap.get("qualification_ref")
        if ref is not None and ref not in refs:
            set_error(errors, ("capabilities", i, "qualification_ref"),
                       "未找到对应的资质证书 / no qualification with this ref")


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


def submit_application(session: Session, principal: dict, data: dict, at: dt.datetime | None = None) -> dict:
    principal = access.require_role(principal, access.APPLICANTS)
    at = at or utcnow()
    prepared = _validated(session, data, local_day(at))
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
    history_append(app, {"at": iso(at), "action": "submitted", "by": str(principal["user_id"])})
    session.add(app)
    session.flush()
    # Attributed to the institution it is about (its figures list it under this rule): sla.clock_closed.
    clock = sla.start_clock(session, REVIEW_RULE, "application", app.id, at=at, institution_id=app.institution_id)
    record_event(session, SOURCE, "institution.applied", app.institution_id, {
        "application_id": app.id, "institution_id": app.institution_id, "name": app.name,
        "kind": data["institution"]["kind"],
        "categories": sorted({c["category"] for c in data["capabilities"]}),
        "submitted_at": iso(at), "review_due_at": iso(clock.due_at), "resubmission": False})
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
    prepared = _validated(session, data, local_day(at))
    app.payload = json.dumps(_stored_payload(session, data, prepared), ensure_ascii=False)
    app.name = data["institution"]["name"]
    app.legal_representative = data["institution"].get("legal_representative")
    app.status = "submitted"
    app.submissions += 1
    app.submitted_at = at
    app.reasons = None
    history_append(app, {"at": iso(at), "action": "resubmitted", "by": str(principal["user_id"])})
    # the review limit counts again in full from the resubmission.
    clock = sla.restart_clock(session, (REVIEW_RULE, "application", app.id), at=at)
    record_event(session, SOURCE, "institution.applied", app.institution_id, {
        "application_id": app.id, "institution_id": app.institution_id, "name": app.name,
        "kind": data["institution"]["kind"], "categories": sorted({c["category"] for c in data["capabilities"]}),
        "submitted_at": iso(at), "review_due_at": iso(clock.due_at), "resubmission": True})
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
            "returned_at": iso(at)})
        notify(session, app.applicant_user_id, "application.returned", app.id,
               "入驻申请需补充材料 / Application returned for supplement", "; ".join(reasons), at)
    elif decision == "reject":
        app.status = "rejected"
        sla.stop_clock(session, (REVIEW_RULE, "application", app.id), at=at, missing_ok=True)
        record_event(session, SOURCE, "institution.rejected", app.institution_id, {
            "application_id": app.id, "institution_id": app.institution_id, "reasons": reasons,
            "rejected_at": iso(at)})
        notify(session, app.applicant_user_id, "application.rejected", app.id,
               "入驻申请未通过 / Application rejected", "; ".join(reasons), at)
    elif decision == "approve":
        payload = json.loads(app.payload)
        # Re-checked at decision time: a certificate may have expired while the application waited.
        for i, qual in enumerate(payload["qualifications"]):
            if dt.date.fromisoformat(qual["valid_to"]) < local_day(at):
                raise ValidationFailed("A qualification expired while under review / 审核期间资质证书已过期",
                                       errors={"qualifications": {str(i): {"valid_to": ["expired"]}}})
        app.status = "approved"
        sla.stop_clock(session, (REVIEW_RULE, "application", app.id), at=at, missing_ok=True)
        inst = create_institution(session, principal, app.institution_id, {
            **payload["institution"], "legal_representative": app.legal_representative},
            payload["qualifications"], payload["capabilities"], at=at, application=app)
        notify(session, app.applicant_user_id, "application.approved", app.id,
               "入驻申请已通过 / Application approved", f"机构编号 / institution id: {inst.id}", at)
    history_append(app, {"at": iso(at), "action": decision, "by": str(principal["user_id"]), "reasons": reasons})
    audit(session, principal, f"application.{decision}", "application", app.id, owner_id=app.applicant_user_id,
          detail={"reasons": reasons})
    return application_view(session, app, principal)


def review(session: Session, principal: dict, application_id: str, data: dict) -> dict:
    """The review operation: the decision and reasons of a loaded ReviewIn."""
    return review_application(session, principal, application_id, data["decision"], data["reasons"])


def application_view(session: Session, app: Application, principal: dict | None, brief: bool = False) -> dict:
    payload = json.loads(app.payload)
    clock = session.scalars(select(sla.SlaClock).where(sla.SlaClock.rule == REVIEW_RULE,
                                                       sla.SlaClock.subject_type == "application",
                                                       sla.SlaClock.subject_id == app.id)
                            .order_by(sla.SlaClock.started_at.desc())).first()
    view = {
        "application_id": app.id, "institution_id": app.institution_id, "applicant_user_id": app.applicant_user_id,
        "status": app.status, "name": app.name, "submissions": app.submissions,
        "submitted_at": iso(app.submitted_at), "decided_at": iso(app.decided_at),
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
