"""The in-app notification list of a user (review results, R-6.1.2; training promotions)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import access
from .journal import iso
from .models import Notification


def notifications(session: Session, principal: dict, limit: int = 50, offset: int = 0) -> dict:
    principal = access.require_principal(principal)
    query = select(Notification).where(Notification.user_id == str(principal["user_id"]))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Notification.created_at.desc(), Notification.id).limit(limit).offset(offset))
    return {"items": [{"id": n.id, "kind": n.kind, "subject_id": n.subject_id, "title": n.title, "body": n.body,
                       "created_at": iso(n.created_at), "read": n.read_at is not None} for n in rows],
            "total": total, "limit": limit, "offset": offset}
