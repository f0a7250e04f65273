"""Reading accounts: who sees which account, masked or revealed (后台实名、前台自愿).

The answer is the account itself, wrapped in `Shown`: the personal fields are
masked unless the caller asked for them (`reveal`) and pii.may_reveal allows it;
contract.schemas.UserOut dumps it. A full reveal to anyone but the owner writes
an audit entry.
"""
from __future__ import annotations

import base64
import binascii

from sqlalchemy import func, select

from services.common import pii
from services.common.audit import audit
from services.common.errors import Forbidden, NotFound, ValidationFailed
from services.common.platform import OPERATORS, PLATFORM_STAFF, STAFF_READERS

from . import levels
from .models import User
from .principals import load_actor, read_actor, require_role

READ_ANY_USER_ROLES = frozenset(STAFF_READERS)
LOOKUP_BY_PHONE_ROLES = frozenset(OPERATORS)
ACCOUNT_CHECK_ROLES = frozenset(PLATFORM_STAFF)
PII_FIELDS = ("real_name", "id_number", "phone")
_MASKS = {"real_name": pii.mask_name, "id_number": pii.mask_id_number, "phone": pii.mask_phone}


class Shown:
    """An account as one caller may see it: what UserOut / MeOut dump."""

    def __init__(self, user: User, revealed: bool = False, sid: str | None = None):
        self._user = user
        self.pii_revealed = revealed
        self.sid = sid

    def __getattr__(self, name):
        value = getattr(self._user, name)
        if name in _MASKS and not self.pii_revealed:
            return _MASKS[name](value)
        return value

    @property
    def verification_level(self) -> str | None:
        return levels.level_of(self._user)

    @property
    def phone_verified(self) -> bool:
        return self._user.phone_verified_at is not None

    @property
    def identity_verified(self) -> bool:
        return self._user.identity_verified_at is not None


def shown(user: User, principal: dict | None, reveal: bool = False, session=None, sid: str | None = None) -> Shown:
    """`user` as `principal` may see it; asking without the right gives the masked account
    (`pii_revealed` tells which one came back). Revealing another's data needs `session` (audit)."""
    revealed = bool(reveal) and pii.may_reveal(principal, user.id)
    if revealed and str((principal or {}).get("user_id")) != user.id:
        if session is None:
            raise RuntimeError("revealing another user's personal data needs a session for the audit entry")
        audit(session, principal, "user.pii_revealed", "user", user.id, owner_id=user.id,
              detail={"fields": [f for f in PII_FIELDS if getattr(user, f)]})
    return Shown(user, revealed, sid)


def get_user(session, principal: dict, user_id: str, reveal: bool = False) -> Shown:
    actor = load_actor(session, principal)
    # Refused before the lookup, so a non-staff caller cannot probe which ids exist.
    if actor.id != str(user_id) and actor.role not in READ_ANY_USER_ROLES:
        raise Forbidden("You may only read your own account / 只能查看本人账号")
    user = session.get(User, str(user_id))
    if user is None:
        raise NotFound("No such user / 用户不存在")
    return shown(user, principal, reveal=reveal, session=session)


def me(session, principal: dict) -> Shown:
    """GET /me, in a read session: the account as a plain row (principals.read_actor)."""
    return Shown(read_actor(session, principal), sid=principal.get("sid"))


def me_in_transaction(session, principal: dict) -> Shown:
    """The caller's account inside a write, with what this transaction changed in it."""
    return Shown(load_actor(session, principal), sid=principal.get("sid"))


def account_kind(session, principal: dict, user_id: str) -> dict:
    """Role and status of an account, nothing else (no name, no personal data).

    Window staff file demands and visit records for enterprises (R-6.3.1.2) and
    must be able to check that the account they name is an active enterprise,
    without the broader read that `get_user` gives operators.
    """
    require_role(session, principal, ACCOUNT_CHECK_ROLES)
    user = session.get(User, str(user_id))
    if user is None:
        raise NotFound("No such user / 用户不存在")
    return {"user_id": user.id, "role": user.role, "status": user.status,
            "verification_level": levels.level_of(user)}


def _encode_cursor(username: str) -> str:
    return base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed("Bad cursor / 游标无效", errors={"cursor": ["not a cursor from this API"]}) from None


def list_users(session, principal: dict, role: str | None = None, limit: int = 50, cursor: str | None = None) -> dict:
    """Users ordered by username (unique, so pages never repeat or skip), masked."""
    require_role(session, principal, READ_ANY_USER_ROLES)
    limit = max(1, min(int(limit or 50), 200))
    base = select(User)
    if role:
        base = base.where(User.role == role)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    query = base
    if cursor:
        query = query.where(User.username > _decode_cursor(cursor))
    rows = session.scalars(query.order_by(User.username).limit(limit + 1)).all()
    next_cursor = _encode_cursor(rows[limit - 1].username) if len(rows) > limit else None
    return {"items": [Shown(u) for u in rows[:limit]], "next_cursor": next_cursor, "total": total}


def find_user_by_phone(session, principal: dict, data: dict) -> dict:
    """Exact lookup through the blind index (e.g. a demand taken by telephone); audited."""
    require_role(session, principal, LOOKUP_BY_PHONE_ROLES)
    number = pii.check_mobile(data["phone"], field="phone")
    rows = session.scalars(select(User).where(User.phone_bidx == pii.blind_index("phone", number))
                           .order_by(User.status, User.username)).all()
    audit(session, principal, "user.looked_up_by_phone", "user", rows[0].id if rows else None,
          owner_id=rows[0].id if rows else None, detail={"matches": len(rows)})
    return {"items": [Shown(u) for u in rows]}
