"""A service's local copy of the accounts identity announces in `user.registered`.

Tokens carry no names and no service reads identity's tables, so a service that shows
who someone is keeps the event's id, role and public nickname (no personal data) in a
table of its own (delivery, registry). The event id is claimed in the same transaction,
so a redelivery changes nothing.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from .consumer import claim_event

REGISTERED = "user.registered"


def keep_registered_account(session: Session, consumer: str, envelope: dict, model) -> tuple[str, object | None]:
    """Apply one identity event to `model` (id, role, nickname columns): ("applied", the row),
    ("duplicate", None) for an event already claimed, ("ignored", None) for any other type."""
    if envelope.get("type") != REGISTERED:
        return "ignored", None
    if not claim_event(session, consumer, envelope):
        return "duplicate", None
    data = envelope.get("data") or {}
    user_id = str(data["user_id"])
    row = session.get(model, user_id)
    if row is None:
        row = model(id=user_id)
        session.add(row)
    row.role = str(data.get("role") or "")[:20]
    row.nickname = str(data.get("nickname") or "")[:100]
    return "applied", row
