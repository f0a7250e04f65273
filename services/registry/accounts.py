"""The accounts the registry knows: a local copy kept from identity's `user.registered`.

Tokens carry no names and the registry reads no other service's tables, so the
public nickname a user chose at registration comes with the event (as delivery
keeps it, services/delivery/institutions.py). The event carries no personal
data: id, role, nickname. The event is applied by
services.common.known_accounts, as in delivery; the registry also keeps when the account
was registered.

Accounts registered before the registry consumed the event are not known here:
their nickname reads as null and the web shows their id.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.known_accounts import keep_registered_account

from .models import KnownAccount

CONSUMER = "registry.accounts"


def _moment(text) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return utcnow()
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def apply_identity_event(session: Session, envelope: dict) -> str:
    """Keep the id, role and nickname of one registered account: applied | duplicate | ignored."""
    outcome, row = keep_registered_account(session, CONSUMER, envelope, KnownAccount)
    if row is not None:
        data = envelope.get("data") or {}
        row.registered_at = _moment(data["registered_at"]) if data.get("registered_at") else utcnow()
    return outcome


def nickname_of(session: Session, user_id: str) -> str | None:
    """The account's public nickname; None when the registry never heard of it (or it is blank)."""
    row = session.get(KnownAccount, str(user_id))
    return (row.nickname or None) if row is not None else None
