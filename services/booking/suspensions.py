"""No-show suspensions and their appeal to the operators.

3 no-shows in 90 days suspend booking for 30 days (bookings.record_no_show, numbers in
policy data). The suspended user may appeal once per suspension with a reason; an
operator decides: `lifted` ends the suspension at once (and forgives the no-shows
behind it, see record_no_show), `upheld` leaves it to run out. Operators may also
lift a suspension without an appeal. Every appeal, decision and lift is audited.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.errors import Conflict

from .common import iso, is_operator, not_found, now_or, require_caller
from .models import Suspension


def _active(session: Session, user_id: str, now: dt.datetime) -> list[Suspension]:
    return list(session.scalars(select(Suspension).where(
        Suspension.user_id == str(user_id), Suspension.lifted_at.is_(None), Suspension.until > now)
        .order_by(Suspension.starts_at)))


def view(row: Suspension, now: dt.datetime) -> dict:
    if row.lifted_at is not None:
        state = "lifted"
    elif row.until <= now:
        state = "ended"
    else:
        state = "active"
    return {"id": row.id, "user_id": row.user_id, "state": state, "starts_at": iso(row.starts_at),
            "until": iso(row.until), "no_shows": row.no_shows, "appeal_reason": row.appeal_reason,
            "appealed_at": iso(row.appealed_at), "decision": row.decision, "decision_reason": row.decision_reason,
            "decided_at": iso(row.decided_at), "lifted_at": iso(row.lifted_at)}


def list_suspensions(session: Session, principal: dict, appealed=None, now: dt.datetime | None = None) -> list[dict]:
    """Operators: every suspension (newest first); anyone else: their own."""
    require_caller(principal)
    now = now_or(now)
    query = select(Suspension).order_by(Suspension.starts_at.desc()).limit(500)
    if not is_operator(principal):
        query = query.where(Suspension.user_id == str(principal["user_id"]))
    if appealed is not None:
        query = query.where(Suspension.appealed_at.is_not(None) if appealed else Suspension.appealed_at.is_(None))
    return [view(row, now) for row in session.scalars(query)]


def appeal(session: Session, principal: dict, data: dict, now: dt.datetime | None = None) -> dict:
    require_caller(principal)
    now = now_or(now)
    rows = _active(session, principal["user_id"], now)
    if not rows:
        raise Conflict("No active suspension to appeal / 当前没有可申诉的暂停", code="no_active_suspension")
    row = rows[-1]
    if row.appealed_at is not None:
        raise Conflict("This suspension was appealed already / 该暂停已申诉", code="already_appealed")
    row.appeal_reason, row.appealed_at = data["reason"], now
    audit(session, principal, "suspension.appeal", "suspension", row.id, owner_id=row.user_id)
    return view(row, now)


def decide(session: Session, principal: dict, suspension_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    row = session.get(Suspension, str(suspension_id), with_for_update=True)
    if row is None:
        raise not_found("suspension")
    if row.appealed_at is None:
        raise Conflict("The suspension was not appealed / 该暂停未申诉", code="not_appealed")
    if row.decided_at is not None:
        raise Conflict("The appeal was decided already / 申诉已处理", code="appeal_decided")
    row.decision, row.decision_reason = data["decision"], data["reason"]
    row.decided_at, row.decided_by = now, str(principal["user_id"])
    if data["decision"] == "lifted" and row.lifted_at is None:
        row.lifted_at, row.lifted_by = now, str(principal["user_id"])
    audit(session, principal, f"suspension.appeal_{data['decision']}", "suspension", row.id, owner_id=row.user_id)
    return view(row, now)


def lift(session: Session, principal: dict, user_id: str, now: dt.datetime | None = None) -> dict:
    """Operators lift a user's active suspensions without an appeal."""
    now = now_or(now)
    rows = _active(session, user_id, now)
    for row in rows:
        row.lifted_at, row.lifted_by = now, str(principal["user_id"])
        audit(session, principal, "suspension.lift", "suspension", row.id, owner_id=row.user_id)
    return {"user_id": user_id, "lifted": len(rows)}
