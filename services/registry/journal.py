"""Small shared steps of the registry's institution use cases: dates, history, notifications.

`record` writes the institution's own history (who did what when, readable by
staff); `history_append` the history kept inside an application or a change;
`notify` adds an in-app notification for a user.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.events import iso_utc
from services.common.workdays import local_date

from .models import InstitutionEvent, Notification, new_id

SOURCE = "registry"


def local_day(at: dt.datetime | None) -> dt.date:
    return local_date(at or utcnow())


def iso(value):
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


def is_late(event_day: dt.date, submitted_day: dt.date) -> bool:
    """More than one month between the event (change, closure) and telling the platform."""
    return submitted_day > add_months(event_day, 1)


def history_append(target, entry: dict) -> None:
    entries = json.loads(target.history or "[]")
    entries.append(entry)
    target.history = json.dumps(entries, ensure_ascii=False)


def record(session: Session, institution_id: str, principal: dict | None, action: str, detail=None,
            at: dt.datetime | None = None) -> None:
    session.add(InstitutionEvent(institution_id=institution_id, at=at or utcnow(),
                                 actor_id=str((principal or {}).get("user_id") or "system"), action=action,
                                 detail=json.dumps(detail, ensure_ascii=False) if detail is not None else None))


def notify(session: Session, user_id: str | None, kind: str, subject_id: str, title: str, body: str,
           at: dt.datetime | None = None) -> None:
    if user_id:
        session.add(Notification(id=new_id(), user_id=str(user_id), kind=kind, subject_id=str(subject_id),
                                 title=title, body=body, created_at=at or utcnow()))


def set_error(errors: dict, path: tuple, message: str) -> None:
    node = errors
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(path[-1], []).append(message)
