"""The accounts the registry knows: a local copy kept from identity's `user.registered`.

Tokens carry no names and the registry reads no other service's tables, so the
public nickname a user chose at registration comes with the event (as delivery
keeps it, services/delivery/institutions.py). The event carries no personal
data: id, role, nickname. The consumer claims the event id in the same
transaction, so a redelivery changes nothing.

Accounts registered before the registry consumed the event are not known here:
their nickname reads as null and the web shows their id.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from services.common.consumer import claim_event
from services.common.db import utcnow

from .models import KnownAccount

CONSUMER = "registry.accounts"
REGISTERED = "user.registered"


def _moment(text) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return utcnow()
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def apply_identity_event(session: Session, envelope: dict) -> str:
    """Keep the id, role and nickname of one registered account: applied | duplicate | ignored."""
    if envelope.get("type") != REGISTERED:
        return "ignored"
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    data = envelope.get("data") or {}
    user_id = str(data["user_id"])
    row = session.get(KnownAccount, user_id)
    if row is None:
        row = KnownAccount(id=user_id)
        session.add(row)
    row.role = str(data.get("role") or "")[:20]
    row.nickname = str(data.get("nickname") or "")[:100]
    row.registered_at = _moment(data["registered_at"]) if data.get("registered_at") else utcnow()
    return "applied"


def nickname_of(session: Session, user_id: str) -> str | None:
    """The account's public nickname; None when the registry never heard of it (or it is blank)."""
    row = session.get(KnownAccount, str(user_id))
    return (row.nickname or None) if row is not None else None
