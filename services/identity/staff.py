"""What platform staff do to accounts: create staff accounts, change roles, disable and re-enable."""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError as MarshmallowValidationError
from sqlalchemy import func, select

from services.common import pii
from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event
from services.common.platform import OPERATORS, STAFF_READERS

from . import tokens
from .contract.schemas import check_binding
from .models import RoleChange, User, new_id
from .passwords import hash_password
from .principals import require_role
from .registration import flush_new, identity_taken, registered_event, username_taken_check
from .users import Shown

SOURCE = "identity"
ADMINS = frozenset({"admin"})
STATUS_CHANGERS = frozenset(OPERATORS)
# Accounts of those who run or oversee the platform: only an admin changes their status.
STAFF_ROLES_PROTECTED = frozenset(STAFF_READERS)


def _check_unique(session, username: str, phone_bidx: str | None) -> None:
    """Staff accounts: the admin may look anybody up by phone anyway, so saying which detail is taken leaks nothing."""
    username_taken_check(session, username)
    if phone_bidx and session.scalar(select(User.id).where(User.phone_bidx == phone_bidx)
                                     .where(User.status == "active")) is not None:
        raise Conflict("Phone number is already registered / 手机号已被注册", code="phone_taken",
                       errors={"phone": ["手机号已被注册 / already registered"]})


def create_staff(session, principal: dict, data: dict, now: dt.datetime | None = None) -> Shown:
    """An admin creates a staff account; `data` is a loaded CreateStaff."""
    require_role(session, principal, ADMINS)
    now = now or utcnow()
    phone_bidx = pii.blind_index("phone", data["phone"]) if data.get("phone") else None
    _check_unique(session, data["username"], phone_bidx)
    user = User(id=new_id(), username=data["username"], role=data["role"], status="active",
                nickname=data["nickname"], real_name=data.get("real_name"), phone=data.get("phone"),
                phone_bidx=phone_bidx, password_hash=hash_password(data["password"]),
                window_id=data.get("window_id"), institution_id=data.get("institution_id"),
                created_at=now, updated_at=now)
    flush_new(session, user)
    audit(session, principal, "user.created", "user", user.id, owner_id=user.id, detail={"role": user.role})
    registered_event(session, user)
    return Shown(user)


def change_role(session, principal: dict, user_id: str, data: dict, now: dt.datetime | None = None) -> Shown:
    """Admin only; history in role_change, an audit entry, and `user.role_changed`.

    The user's sessions are revoked: their tokens carry the old role.
    """
    actor = require_role(session, principal, ADMINS)
    now = now or utcnow()
    user = session.get(User, str(user_id))
    if user is None:
        raise NotFound("No such user / 用户不存在")
    new_role = data["role"]
    # A binding belongs to the role that needs it: one left behind would still ride
    # in the tokens and could open a window's or institution's data to a non-staff role.
    window_id = (data.get("window_id") or user.window_id) if new_role == "window" else None
    institution_id = (data.get("institution_id") or user.institution_id) if new_role == "institution" else None
    try:
        check_binding(new_role, window_id, institution_id)
    except MarshmallowValidationError as exc:
        raise ValidationFailed("Missing binding / 缺少绑定", errors=exc.normalized_messages()) from None
    if new_role == user.role and window_id == user.window_id and institution_id == user.institution_id:
        return Shown(user)
    if user.role == "admin" and new_role != "admin":
        admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin")
                                .where(User.status == "active"))
        if admins <= 1:
            raise Conflict("The last administrator cannot lose the role / 不能移除最后一个管理员", code="last_admin")
    old_role = user.role
    user.role = new_role
    user.window_id = window_id
    user.institution_id = institution_id
    user.updated_at = now
    if old_role != new_role:
        session.add(RoleChange(id=new_id(), user_id=user.id, old_role=old_role, new_role=new_role,
                               changed_by=actor.id, changed_at=now))
        record_event(session, SOURCE, "user.role_changed", subject=user.id, data={
            "user_id": user.id, "old_role": old_role, "new_role": new_role, "changed_by": actor.id})
    audit(session, principal, "user.role_changed", "user", user.id, owner_id=user.id,
          detail={"old_role": old_role, "new_role": new_role, "window_id": user.window_id,
                  "institution_id": user.institution_id})
    tokens.revoke_user_sessions(session, user.id, "role_changed", now)
    return Shown(user)


def set_status(session, principal: dict, user_id: str, data: dict, now: dt.datetime | None = None) -> Shown:
    """Disable or re-enable an account (e.g. one squatting another company's USCC); `data` is a StatusChange.

    Operators may act on public accounts only; platform staff accounts are the
    admin's. Disabling ends every session at once and frees the account's phone,
    ID number and USCC for a legitimate registration.
    """
    status, reason = data["status"], data["reason"]
    actor = require_role(session, principal, STATUS_CHANGERS)
    now = now or utcnow()
    user = session.get(User, str(user_id))
    if user is None:
        raise NotFound("No such user / 用户不存在")
    if user.role in STAFF_ROLES_PROTECTED and actor.role != "admin":
        raise Forbidden("Only an administrator changes a staff account / 仅管理员可变更工作人员账号状态")
    if user.id == actor.id:
        raise Conflict("You cannot change your own account's status / 不能变更本人账号状态", code="own_account")
    if user.status == status:
        return Shown(user)
    if status == "active" and user.phone_bidx and identity_taken(
            session, user.role, user.phone_bidx, user.id_number_bidx, user.uscc):
        # Someone registered these details while the account was disabled (the
        # rightful owner, typically): the old account cannot take them back.
        raise Conflict("Another active account now holds this account's phone, ID number or credit code / "
                       "该账号的手机号、身份证号或信用代码已被其他有效账号使用", code="details_taken")
    old_status, user.status, user.updated_at = user.status, status, now
    record_event(session, SOURCE, "user.status_changed", subject=user.id, data={
        "user_id": user.id, "old_status": old_status, "new_status": status, "changed_by": actor.id,
        "changed_at": iso_utc(now)})
    audit(session, principal, "user.status_changed", "user", user.id, owner_id=user.id,
          detail={"old_status": old_status, "new_status": status, "reason": reason})
    if status == "disabled":
        tokens.revoke_user_sessions(session, user.id, "account_disabled", now)
    return Shown(user)


def role_history(session, user_id: str) -> list[dict]:
    rows = session.scalars(select(RoleChange).where(RoleChange.user_id == user_id)
                           .order_by(RoleChange.changed_at)).all()
    return [{"old_role": r.old_role, "new_role": r.new_role, "changed_by": r.changed_by,
             "changed_at": iso_utc(r.changed_at)} for r in rows]
