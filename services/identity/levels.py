"""An account's verification level, from the evidence stored on it.

Levels are cumulative (services.common.verification_levels): licence review
and the external check count only on top of a verified phone, so every level
above `format_checked` also means "reachable at a proven number". The upload
and the external check therefore ask for `phone_verified` first.
"""
from __future__ import annotations

from services.common.events import iso_utc
from services.common.outbox import record_event

from .contract.vocabulary import SELF_REGISTERED_ROLES
from .models import User

SOURCE = "identity"


def level_of(user: User) -> str | None:
    if user.role not in SELF_REGISTERED_ROLES or user.format_checked_at is None:
        return None   # staff: identified by their employer, no level
    if user.phone_verified_at is None:
        return "format_checked"
    if user.externally_verified_at is not None:
        return "externally_verified"
    if user.role == "enterprise" and user.licence_reviewed_at is not None:
        return "licence_reviewed"
    return "phone_verified"


def announce_if_raised(session, user: User, before: str | None, aspect: str, at) -> None:
    """`user.verified` whenever the level rose; it carries the new level (no personal data)."""
    from services.common.verification_levels import rank

    after = level_of(user)
    if rank(after) > rank(before):
        if after in ("licence_reviewed", "externally_verified") and user.identity_verified_at is None:
            user.identity_verified_at = at
        record_event(session, SOURCE, "user.verified", subject=user.id, data={
            "user_id": user.id, "aspect": aspect, "level": after, "previous_level": before,
            "verified_at": iso_utc(at)})
