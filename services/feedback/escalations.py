"""Escalation notices (6.5.1): when a complaint or rectification passes an escalation point, the
people responsible hear of it — a notice listed through the API and an event.

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
from services.common.errors import NotFound
from services.common.outbox import record_event

from .common import SOURCE, add_step, iso, now
from .models import Complaint, Notification, Rectification

OPERATOR_ROLE = "operator"


def _notice(session: Session, kind: str, subject_type: str, subject_id: str, message: str,
            recipient_id: str | None = None, recipient_role: str | None = None, at=None) -> None:
    session.add(Notification(recipient_id=recipient_id, recipient_role=recipient_role, kind=kind,
                             subject_type=subject_type, subject_id=subject_id, message=message, created_at=at or now()))


def complaint_escalated(session: Session, complaint: Complaint, escalate_to: str, waited: int, at) -> None:
    """A forwarded complaint passed its rule's escalation point: notices and complaint.escalated."""
    message = (f"投诉 {complaint.number} 已转办 {waited} 个工作日未答复，已升级 / "
               f"Complaint {complaint.number} unanswered {waited} working days after forwarding: escalated")
    _notice(session, "complaint.escalated", "complaint", complaint.id, message, recipient_role=escalate_to, at=at)
    if complaint.handler_id:
        _notice(session, "complaint.escalated", "complaint", complaint.id, message,
                recipient_id=complaint.handler_id, at=at)
    record_event(session, SOURCE, "complaint.escalated", complaint.id, {
        "complaint_id": complaint.id, "number": complaint.number, "institution_id": complaint.institution_id,
        "type": complaint.type, "escalated_to": escalate_to, "working_days": waited, "at": iso(at)})


def rectifications_overdue(session: Session, clocks, at: dt.datetime | None = None) -> int:
    """Rectification clocks the sweep found newly overdue: notices and rectification.escalated."""
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
        _notice(session, "rectification.escalated", "rectification", case.id, message,
                recipient_role=OPERATOR_ROLE, at=at)
        if case.verified_by:
            _notice(session, "rectification.escalated", "rectification", case.id, message,
                    recipient_id=case.verified_by, at=at)
        add_step(session, "rectification", case.id, "escalate", None, note=clock.rule, at=at)
        record_event(session, SOURCE, "rectification.escalated", case.id, {
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
