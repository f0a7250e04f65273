"""Escalation notices (6.5.1): when a complaint or rectification passes an escalation point, the
people responsible hear of it — a notice listed through the API and an event.

Every escalation goes through `_escalate` (notices, step, event), whatever escalated.
Escalation points:
  - a forwarded complaint unanswered for its supervision rule's `escalate_after_working_days`
    (complaints.escalate_due): the rule's `escalate_to` role and the staff member handling it;
  - a rectification whose clock (verify, rectify) passed its due time unfinished (the sweep's
    newly overdue clocks): the operators and whoever verified it.

A notice names a user or a whole role, never the complainant; the events carry ids only.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.audit import audit
from services.common.errors import NotFound
from services.common.outbox import record_event

from .common import SOURCE, add_step, iso, now
from .models import Complaint, Notification, Rectification

OPERATOR_ROLE = "operator"


def _escalate(session: Session, kind: str, subject_type: str, subject_id: str, message: str, *, to_role: str,
              to_user: str | None, step_note: str, event: dict, at: dt.datetime) -> None:
    """The one way anything escalates: a notice to the role, one to the person responsible (when
    there is one), the case's `escalate` step, and the `kind` event (ids only)."""
    recipients = [{"recipient_role": to_role}] + ([{"recipient_id": to_user}] if to_user else [])
    for recipient in recipients:
        session.add(Notification(kind=kind, subject_type=subject_type, subject_id=subject_id, message=message,
                                 created_at=at, **recipient))
    add_step(session, subject_type, subject_id, "escalate", None, note=step_note, at=at)
    record_event(session, SOURCE, kind, subject_id, event)


def complaint_escalated(session: Session, complaint: Complaint, escalate_to: str, waited: int,
                        at: dt.datetime | None = None) -> None:
    """A forwarded complaint passed its rule's escalation point (complaints.escalate_due found it):
    an audit entry, notices to the rule's role and the handler, the step and complaint.escalated."""
    at = at or now()
    audit(session, None, "complaint.escalated", "complaint", complaint.id,
          detail={"to": escalate_to, "working_days": waited})
    message = (f"投诉 {complaint.number} 已转办 {waited} 个工作日未答复，已升级 / "
               f"Complaint {complaint.number} unanswered {waited} working days after forwarding: escalated")
    _escalate(session, "complaint.escalated", "complaint", complaint.id, message, to_role=escalate_to,
              to_user=complaint.handler_id, step_note=escalate_to, at=at, event={
                  "complaint_id": complaint.id, "number": complaint.number, "institution_id": complaint.institution_id,
                  "type": complaint.type, "escalated_to": escalate_to, "working_days": waited, "at": iso(at)})


def rectifications_overdue(session: Session, clocks, at: dt.datetime | None = None) -> int:
    """Rectification clocks the sweep found newly overdue: notices to the operators and whoever
    verified it, the step and rectification.escalated."""
    at = at or now()
    count = 0
    for clock in clocks:
        if clock.subject_type != "rectification":
            continue
        case = session.get(Rectification, clock.subject_id)
        if case is None:
            continue
        # People read the notice: the limit by its description, not by its rule id.
        limit = sla.get_rule(clock.rule)
        message = (f"差评整改 {case.id[:8]} 超过时限（{limit.description_zh}，{clock.limit_working_days} 个工作日），"
                   f"请督办 / Rectification {case.id[:8]} passed its limit ({limit.description_en}, "
                   f"{clock.limit_working_days} working days): follow it up")
        _escalate(session, "rectification.escalated", "rectification", case.id, message, to_role=OPERATOR_ROLE,
                  to_user=case.verified_by, step_note=clock.rule, at=at, event={
                      "rectification_id": case.id, "institution_id": case.institution_id, "rule": clock.rule,
                      "due_at": iso(clock.due_at), "at": iso(at)})
        count += 1
    return count


# -- the API -----------------------------------------------------------------------------------
def _mine(principal: dict):
    return or_(Notification.recipient_id == str(principal["user_id"]),
               Notification.recipient_role == principal.get("role"))


def _view(n: Notification) -> dict:
    return {"id": n.id, "kind": n.kind, "subject_type": n.subject_type, "subject_id": n.subject_id,
            "message": n.message, "created_at": iso(n.created_at), "read_at": iso(n.read_at),
            "to_role": n.recipient_role}


def list_notices(session: Session, principal: dict, query: dict) -> dict:
    stmt = select(Notification).where(_mine(principal))
    if query.get("unread"):
        stmt = stmt.where(Notification.read_at.is_(None))
    rows = list(session.scalars(stmt.order_by(Notification.created_at.desc()).limit(query["limit"])))
    return {"items": [_view(n) for n in rows]}


def read_notice(session: Session, principal: dict, notice_id: str) -> dict:
    notice = session.scalars(select(Notification).where(Notification.id == str(notice_id), _mine(principal))).first()
    if notice is None:
        raise NotFound("No such notice / 无此通知", code="notice_not_found")
    # A role-wide notice is read once for the role: whoever of it looked first.
    notice.read_at = notice.read_at or now()
    return _view(notice)
