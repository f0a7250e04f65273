"""In-app notifications of the booking slice (waitlist offers and their expiry), listed by the user
through the API like the registry's notifications. The row holds the text; events carry ids only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import NotFound

from .common import now_or, require_caller
from .models import BookingNotification


def notify(session: Session, user_id: str, kind: str, subject_id: str, title: str, body: str,
           at: dt.datetime) -> BookingNotification:
    row = BookingNotification(user_id=user_id, kind=kind, subject_id=subject_id, title=title[:200], body=body[:500],
                              created_at=at)
    session.add(row)
    return row


def view(row: BookingNotification) -> dict:
    return {"id": row.id, "kind": row.kind, "subject_id": row.subject_id, "title": row.title, "body": row.body,
            "created_at": row.created_at, "read": row.read_at is not None}


def mine(session: Session, principal: dict, query: dict) -> list:
    principal = require_caller(principal)
    stmt = select(BookingNotification).where(BookingNotification.user_id == str(principal["user_id"]))
    if query.get("unread"):
        stmt = stmt.where(BookingNotification.read_at.is_(None))
    rows = session.scalars(stmt.order_by(BookingNotification.created_at.desc(), BookingNotification.id)
                           .limit(query["limit"]))
    return [view(r) for r in rows]


def mark_read(session: Session, principal: dict, notification_id: str, now: dt.datetime | None = None) -> dict:
    principal = require_caller(principal)
    row = session.get(BookingNotification, str(notification_id))
    if row is None or row.user_id != str(principal["user_id"]):
        raise NotFound("No such notification / 通知不存在", code="notification_not_found")
    row.read_at = row.read_at or now_or(now)
    return view(row)
