"""Changes of name, address or legal representative (R-6.1.3), reviewed like an application.

A change goes through the same steps under its own rule (`registry.change_review`):
submitted, returned for supplement (clock paused), resubmitted (clock restarted
in full), approved or rejected; every step is kept in the change's history and
the institution's. Only an approved change of the public fields is a new
revision of the profile; the legal representative is not public.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.pii import mask_name

from . import access, files
from .institutions import active_own_institution, bump, get_institution_row, require_active
from .journal import history_append, is_late, iso, local_day, notify, record, set_error
from .models import ChangeRequest, Institution, new_id

# a change is "reviewed like an application": its own 3-working-day rule, restarted on resubmission.
CHANGE_REVIEW_RULE = "registry.change_review"


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
            "submitted_at": iso(change.submitted_at), "submissions": change.submissions,
            "first_submitted_at": iso(change.first_submitted_at or change.submitted_at),
            "decided_by": change.decided_by, "decided_at": iso(change.decided_at),
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
            set_error(errors, path, result)
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
            "late": is_late(change_date, first_submitted), "attachments": json.dumps(refs)}


def _load_change(session: Session, institution_id: str, change_id: str) -> ChangeRequest:
    change = session.get(ChangeRequest, str(change_id))
    if change is None or change.institution_id != institution_id:
        raise NotFound("No such change / 变更申请不存在", code="change_not_found")
    return change


def submit_change(session: Session, principal: dict, institution_id: str, data: dict,
                  at: dt.datetime | None = None) -> dict:
    inst = active_own_institution(session, principal, institution_id)
    at = at or utcnow()
    values = _prepare_change(session, inst, data, local_day(at))
    change = ChangeRequest(id=new_id(), institution_id=inst.id, status="submitted", **values,
                           submitted_by=str(principal["user_id"]), submitted_at=at, first_submitted_at=at,
                           submissions=1, history="[]")
    history_append(change, {"at": iso(at), "action": "submitted", "by": str(principal["user_id"]),
                             "fields": values["changed_fields"].split(",")})
    session.add(change)
    session.flush()
    sla.start_clock(session, CHANGE_REVIEW_RULE, "institution_change", change.id, at=at, institution_id=inst.id)
    record(session, inst.id, principal, "change_submitted",
            {"change_id": change.id, "fields": values["changed_fields"].split(","), "late": change.late}, at)
    audit(session, principal, "institution.change_submitted", "institution", inst.id, detail={"change_id": change.id})
    return _change_view(session, change, principal)


def resubmit_change(session: Session, principal: dict, institution_id: str, change_id: str, data: dict,
                    at: dt.datetime | None = None) -> dict:
    """Supplemented change after a return: the review clock counts the full limit again (R-6.1.2/6.1.3)."""
    inst = active_own_institution(session, principal, institution_id)
    change = _load_change(session, institution_id, change_id)
    if change.status != "returned":
        raise Conflict(f"Change is {change.status}, not returned for supplement / 变更未被退回补正",
                       code="not_returned")
    at = at or utcnow()
    values = _prepare_change(session, inst, data, local_day(change.first_submitted_at or change.submitted_at))
    for key, value in values.items():
        setattr(change, key, value)
    change.status = "submitted"
    change.submissions += 1
    change.submitted_at = at
    change.reasons = None
    history_append(change, {"at": iso(at), "action": "resubmitted", "by": str(principal["user_id"]),
                             "fields": values["changed_fields"].split(",")})
    sla.restart_clock(session, (CHANGE_REVIEW_RULE, "institution_change", change.id), at=at)
    record(session, inst.id, principal, "change_resubmitted",
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
        record(session, inst.id, principal, "change_returned", {"change_id": change.id}, at)
    elif decision == "approve":
        require_active(inst)
        sla.stop_clock(session, clock_key, at=at, missing_ok=True)
        change.status = "approved"
        for key, value in json.loads(change.after).items():
            setattr(inst, key, value)
        public = [f for f in change.changed_fields.split(",") if f != "legal_representative"]
        record(session, inst.id, principal, "change_approved",
                {"change_id": change.id, "fields": change.changed_fields.split(",")}, at)
        if public:
            # Only a change of the public profile is a new revision; the legal representative is not public.
            bump(session, inst, "institution.changed", at)
    else:
        sla.stop_clock(session, clock_key, at=at, missing_ok=True)
        change.status = "rejected"
        record(session, inst.id, principal, "change_rejected", {"change_id": change.id}, at)
    history_append(change, {"at": iso(at), "action": change.status, "by": str(principal["user_id"]),
                             "reasons": reasons})
    title_zh, title_en = _CHANGE_NOTICE[change.status]
    notify(session, change.submitted_by, f"change.{change.status}", change.id, f"{title_zh} / {title_en}",
           "; ".join(reasons), at)
    audit(session, principal, f"institution.change_{decision}", "institution", inst.id,
          detail={"change_id": change.id, "reasons": reasons})
    return _change_view(session, change, principal)


def review(session: Session, principal: dict, institution_id: str, change_id: str, data: dict) -> dict:
    """The review operation: the decision and reasons of a loaded ReviewIn."""
    return review_change(session, principal, institution_id, change_id, data["decision"], data["reasons"])


def get_change(session: Session, principal: dict, institution_id: str, change_id: str) -> dict:
    principal = access.require_institution_reader(principal, institution_id)
    return _change_view(session, _load_change(session, institution_id, change_id), principal)


def list_changes(session: Session, principal: dict, institution_id: str) -> list[dict]:
    principal = access.require_institution_reader(principal, institution_id)
    get_institution_row(session, institution_id)
    rows = session.scalars(select(ChangeRequest).where(ChangeRequest.institution_id == institution_id)
                           .order_by(ChangeRequest.submitted_at))
    return [_change_view(session, c, principal) for c in rows]
