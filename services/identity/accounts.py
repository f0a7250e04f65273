"""Accounts: registration, staff creation, roles, sign-in, and the masked view.

Real-name verification (R-6.1.1, 后台实名、前台自愿) is a level, not a flag
(services.common.verification_levels, computed by levels.level_of):

* `format_checked`: the USCC (GB 32100) or ID number (GB 11643) passed its check
  characters at registration. That proves the number is well-formed, not that
  the enterprise exists or that the registrant acts for it.
* `phone_verified`: the mobile number passed a one-time code (verification.py).
* `licence_reviewed`: an operator approved the uploaded business licence (licence.py).
* `externally_verified`: a configured external verifier confirmed it (external.py).

`identity_verified` in the views means "verified beyond the format" (licence
reviewed or external check); it no longer turns true on a checksum.
`user.verified` {user_id, aspect, level, previous_level, verified_at} goes out
when the level rises; registration only announces `user.registered` with the
level `format_checked`.
Events carry ids, roles and nicknames only: never ID numbers, phones or real names.

Functions that must persist a change even though the call fails (a failed
login is counted) return the error instead of raising it; the caller commits,
then raises.

Self-registration must not be an oracle for personal data: an anonymous caller
could otherwise submit someone's phone or ID number and learn from the answer
that this person has an account. A taken phone, ID number or credit code all
get the same `registration_conflict` (same status, code, title and detail, no
field errors), and the service counts those refusals per client network
(REGISTRATION_CONFLICT_LIMIT per REGISTRATION_CONFLICT_WINDOW, then 429 for
every registration from there). A taken username stays `username_taken`:
usernames are chosen sign-in names, not personal data, and people need to know
to pick another.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import ipaddress
import math

from marshmallow import ValidationError as MarshmallowValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from services.common import config, pii
from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import (Conflict, DomainError, Forbidden, NotFound, TooManyRequests, Unauthorized,
                                    ValidationFailed)
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import levels, throttle, tokens
from .models import RegistrationConflict, RoleChange, User, new_id
from .passwords import hash_password, needs_rehash, verify_password
from .schemas import check_binding

SOURCE = "identity"
READ_ANY_USER_ROLES = frozenset({"operator", "admin", "regulator"})
LOOKUP_BY_PHONE_ROLES = frozenset({"operator", "admin"})
REGISTRATION_CONFLICT = "registration_conflict"
# Ten is ample for someone who mistyped or forgot they had an account, and
# far too few to test a list of numbers.
REGISTRATION_CONFLICT_LIMIT = 10
REGISTRATION_CONFLICT_WINDOW = dt.timedelta(hours=1)


# --- who is calling ---------------------------------------------------------------

def require_principal(principal) -> dict:
    if not isinstance(principal, dict) or not principal.get("user_id") or not principal.get("role"):
        raise Unauthorized("Sign in first / 请先登录")
    return principal


def load_actor(session, principal) -> User:
    """The caller's own account, which must still be active.

    The role is taken from the database, not from the token: a token minted
    before a role change must not keep the old rights (its session was revoked
    too, but the deny-list reaches gateways asynchronously).
    """
    principal = require_principal(principal)
    user = session.get(User, str(principal["user_id"]))
    if user is None or user.status != "active":
        raise Unauthorized("Account not found or disabled / 账号不存在或已停用", code="account_disabled")
    if user.role != principal["role"]:
        raise Unauthorized("Your role changed: sign in again / 角色已变更，请重新登录", code="token_stale")
    return user


def require_role(session, principal, roles) -> User:
    actor = load_actor(session, principal)
    if actor.role not in roles:
        raise Forbidden(f"Role '{actor.role}' may not do this / 当前角色无权执行该操作")
    return actor


# --- the view -------------------------------------------------------------------------

def _iso(moment):
    return iso_utc(moment) if moment else None


def user_view(user: User, principal: dict | None, reveal: bool = False, session=None) -> dict:
    """The account as `principal` may see it.

    Personal fields are masked unless the caller asked for them (`reveal`) and
    pii.may_reveal allows it; a full reveal to anyone but the owner writes an
    audit entry, so `session` is required then. Asking without the right gives
    the masked view (`pii_revealed` tells which one came back).
    """
    revealed = bool(reveal) and pii.may_reveal(principal, user.id)
    if revealed and str((principal or {}).get("user_id")) != user.id:
        if session is None:
            raise RuntimeError("revealing another user's personal data needs a session for the audit entry")
        fields = [f for f in ("real_name", "id_number", "phone") if getattr(user, f)]
        audit(session, principal, "user.pii_revealed", "user", user.id, owner_id=user.id,
              detail={"fields": fields})
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "status": user.status,
        "nickname": user.nickname,
        "real_name": user.real_name if revealed else pii.mask_name(user.real_name),
        "id_number": user.id_number if revealed else pii.mask_id_number(user.id_number),
        "phone": user.phone if revealed else pii.mask_phone(user.phone),
        "org_name": user.org_name,
        "uscc": user.uscc,
        "verification_level": levels.level_of(user),
        "phone_verified": user.phone_verified_at is not None,
        "identity_verified": user.identity_verified_at is not None,
        "format_checked_at": _iso(user.format_checked_at),
        "phone_verified_at": _iso(user.phone_verified_at),
        "licence_reviewed_at": _iso(user.licence_reviewed_at),
        "externally_verified_at": _iso(user.externally_verified_at),
        "identity_verified_at": _iso(user.identity_verified_at),
        "window_id": user.window_id,
        "institution_id": user.institution_id,
        "created_at": _iso(user.created_at),
        "pii_revealed": revealed,
    }


# --- creating accounts ------------------------------------------------------------------

def _check_username(session, username: str) -> None:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("Username is taken / 用户名已被占用", code="username_taken",
                       errors={"username": ["用户名已被占用 / already taken"]})


def _check_unique(session, username: str, phone_bidx: str | None) -> None:
    """Staff accounts: the admin may look anybody up by phone anyway, so saying which detail is taken leaks nothing."""
    _check_username(session, username)
    if phone_bidx and session.scalar(select(User.id).where(User.phone_bidx == phone_bidx)
                                     .where(User.status == "active")) is not None:
        raise Conflict("Phone number is already registered / 手机号已被注册", code="phone_taken",
                       errors={"phone": ["手机号已被注册 / already registered"]})


def registration_conflict() -> Conflict:
    """The one answer for "these identity details already have an account", whichever matched.

    No `errors` and no field name: a per-field message would say which of the
    caller's phone / ID number / credit code is registered.
    """
    return Conflict("These identity details cannot be used to register. If you already have an account, sign in; "
                    "otherwise contact a service window / 该身份信息无法用于注册：如已有账号请直接登录，"
                    "否则请联系服务窗口", code=REGISTRATION_CONFLICT)


def _identity_taken(session, kind: str, phone_bidx: str, id_bidx: str | None, uscc: str | None) -> bool:
    active = select(User.id).where(User.status == "active")
    # A phone identifies one live account (OTP, lookup by phone).
    if session.scalar(active.where(User.phone_bidx == phone_bidx)) is not None:
        return True
    # One person, one personal account: real-name registration means the ID
    # number identifies the account holder.
    if kind == "person" and session.scalar(active.where(User.id_number_bidx == id_bidx)
                                           .where(User.role == "person")) is not None:
        return True
    # Likewise one enterprise account per credit code: the code is what makes the
    # account the enterprise's (an operator can disable a squatter's account,
    # which frees the code).
    if kind == "enterprise" and session.scalar(active.where(User.uscc == uscc)
                                               .where(User.role == "enterprise")) is not None:
        return True
    return False


def _flush_new(session, user: User, race: Conflict | None = None) -> None:
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name or phone.
        raise (race or Conflict("Username or phone number is taken / 用户名或手机号已被占用",
                                code="username_taken")) from None


def registered_event(session, user: User) -> None:
    record_event(session, SOURCE, "user.registered", subject=user.id, data={
        "user_id": user.id, "role": user.role, "nickname": user.nickname, "registered_at": iso_utc(user.created_at),
        "verification_level": levels.level_of(user),
    })


def register(session, data: dict, now: dt.datetime | None = None) -> User:
    """Self-registration; `data` is a loaded RegisterEnterprise / RegisterPerson.

    Throttling (registration_refused / record_registration_conflict) is the
    caller's: the demo loader registers through here without a client.
    """
    now = now or utcnow()
    kind = data["kind"]
    if kind not in ("enterprise", "person"):
        raise ValidationFailed("Unknown account kind / 未知账号类型", errors={"kind": ["enterprise or person"]})
    phone_bidx = pii.blind_index("phone", data["phone"])
    id_bidx = pii.blind_index("id_number", data["id_number"]) if kind == "person" else None
    _check_username(session, data["username"])
    if _identity_taken(session, kind, phone_bidx, id_bidx, data.get("uscc")):
        raise registration_conflict()
    user = User(id=new_id(), username=data["username"], role=kind, status="active", nickname=data["nickname"],
                phone=data["phone"], phone_bidx=phone_bidx, password_hash=hash_password(data["password"]),
                format_checked_at=now, created_at=now, updated_at=now)
    if kind == "enterprise":
        user.org_name = data["org_name"]
        user.uscc = data["uscc"]
        user.real_name = data["contact_name"]
    else:
        user.real_name = data["real_name"]
        user.id_number = data["id_number"]
        user.id_number_bidx = id_bidx
    # A lost race cannot tell a taken username from a taken phone without another
    # query, so it gets the generic answer; a retry then says `username_taken` if that was it.
    _flush_new(session, user, race=registration_conflict())
    # No `user.verified` here: a checksum is not a verification (level format_checked).
    registered_event(session, user)
    return user


def _client_key(ip: str | None) -> str:
    """HMAC of the caller's network, so no client addresses are kept.

    IPv6 counts per /64, which one subscriber usually gets whole: per address,
    a single client could rotate past any limit. Without an address (a call that
    bypassed the gateway) all such calls share one bucket rather than none.
    """
    network = ""
    if ip:
        try:
            address = ipaddress.ip_address(str(ip).strip())
        except ValueError:
            network = str(ip).strip()[:100]
        else:
            if address.version == 6 and address.ipv4_mapped:
                address = address.ipv4_mapped
            network = str(ipaddress.ip_network(f"{address}/64", strict=False)) if address.version == 6 \
                else str(address)
    key = config.blind_index_key().encode("utf-8")
    return hmac.new(key, b"register\x00" + network.encode("utf-8"), hashlib.sha256).hexdigest()


def registration_refused(session, ip: str | None, now: dt.datetime | None = None) -> DomainError | None:
    """The 429 once the network used up its conflicts, else None.

    Checked before anything else, so a throttled caller gets 429 whether the
    details are taken or not: refusing only the conflicting attempts would make
    429 itself the answer.
    """
    now = now or utcnow()
    times = list(session.scalars(select(RegistrationConflict.at)
                                 .where(RegistrationConflict.client_key == _client_key(ip))
                                 .where(RegistrationConflict.at > now - REGISTRATION_CONFLICT_WINDOW)
                                 .order_by(RegistrationConflict.at)))
    if len(times) >= REGISTRATION_CONFLICT_LIMIT:
        # Free again once enough of the oldest conflicts have left the window.
        frees_at = times[len(times) - REGISTRATION_CONFLICT_LIMIT] + REGISTRATION_CONFLICT_WINDOW
        wait = max(1, math.ceil((frees_at - now).total_seconds()))
        return TooManyRequests(f"Too many registration attempts; retry in {wait} s / 注册尝试过于频繁，请 {wait} 秒后再试",
                               code="registration_throttled", retry_after=wait)
    return None


def record_registration_conflict(session, ip: str | None, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    session.execute(delete(RegistrationConflict)
                    .where(RegistrationConflict.at <= now - REGISTRATION_CONFLICT_WINDOW))
    session.add(RegistrationConflict(client_key=_client_key(ip), at=now))


def create_staff(session, principal: dict, data: dict, now: dt.datetime | None = None) -> User:
    """An admin creates a staff account; `data` is a loaded CreateStaff."""
    require_role(session, principal, {"admin"})
    now = now or utcnow()
    phone_bidx = pii.blind_index("phone", data["phone"]) if data.get("phone") else None
    _check_unique(session, data["username"], phone_bidx)
    user = User(id=new_id(), username=data["username"], role=data["role"], status="active",
                nickname=data["nickname"], real_name=data.get("real_name"), phone=data.get("phone"),
                phone_bidx=phone_bidx, password_hash=hash_password(data["password"]),
                window_id=data.get("window_id"), institution_id=data.get("institution_id"),
                created_at=now, updated_at=now)
    _flush_new(session, user)
    audit(session, principal, "user.created", "user", user.id, owner_id=user.id, detail={"role": user.role})
    registered_event(session, user)
    return user


# --- roles ------------------------------------------------------------------------------

def change_role(session, principal: dict, user_id: str, data: dict, now: dt.datetime | None = None) -> User:
    """Admin only; history in role_change, an audit entry, and `user.role_changed`.

    The user's sessions are revoked: their tokens carry the old role.
    """
    actor = require_role(session, principal, {"admin"})
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
        return user
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
    return user


STATUS_CHANGERS = {"operator", "admin"}
STAFF_ROLES_PROTECTED = {"operator", "regulator", "admin"}


def set_status(session, principal: dict, user_id: str, status: str, reason: str,
               now: dt.datetime | None = None) -> User:
    """Disable or re-enable an account (e.g. one squatting another company's USCC).

    Operators may act on public accounts only; platform staff accounts are the
    admin's. Disabling ends every session at once and frees the account's phone,
    ID number and USCC for a legitimate registration.
    """
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
        return user
    if status == "active" and user.phone_bidx and _identity_taken(
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
    return user


def role_history(session, user_id: str) -> list[dict]:
    rows = session.scalars(select(RoleChange).where(RoleChange.user_id == user_id)
                           .order_by(RoleChange.changed_at)).all()
    return [{"old_role": r.old_role, "new_role": r.new_role, "changed_by": r.changed_by,
             "changed_at": iso_utc(r.changed_at)} for r in rows]


# --- reading ------------------------------------------------------------------------------

def get_user(session, principal: dict, user_id: str, reveal: bool = False) -> dict:
    actor = load_actor(session, principal)
    # Refused before the lookup, so a non-staff caller cannot probe which ids exist.
    if actor.id != str(user_id) and actor.role not in READ_ANY_USER_ROLES:
        raise Forbidden("You may only read your own account / 只能查看本人账号")
    user = session.get(User, str(user_id))
    if user is None:
        raise NotFound("No such user / 用户不存在")
    return user_view(user, principal, reveal=reveal, session=session)


ACCOUNT_CHECK_ROLES = {"window", "operator", "admin"}


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
    items = [user_view(u, principal) for u in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1].username) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor, "total": total}


def find_user_by_phone(session, principal: dict, phone: str) -> dict:
    """Exact lookup through the blind index (e.g. a demand taken by telephone); audited."""
    require_role(session, principal, LOOKUP_BY_PHONE_ROLES)
    number = pii.check_mobile(phone, field="phone")
    rows = session.scalars(select(User).where(User.phone_bidx == pii.blind_index("phone", number))
                           .order_by(User.status, User.username)).all()
    audit(session, principal, "user.looked_up_by_phone", "user", rows[0].id if rows else None,
          owner_id=rows[0].id if rows else None, detail={"matches": len(rows)})
    return {"items": [user_view(u, principal) for u in rows]}


def me(session, principal: dict, reveal: bool = False) -> dict:
    user = load_actor(session, principal)
    view = user_view(user, principal, reveal=reveal, session=session)
    view["sid"] = principal.get("sid")
    return view


# --- signing in ------------------------------------------------------------------------------

def login(session, username: str, password: str, ip: str | None = None,
          now: dt.datetime | None = None) -> dict | DomainError:
    """Password sign-in; returns the token response with the user's own view.

    Unknown user and wrong password give the same error in the same time.
    Failures slow down the (username, client network) pair and the network
    (throttle.py), whether or not the username exists (else the 429 would
    reveal it does); the right password from another network is never held up
    by someone else's guessing.
    """
    now = now or utcnow()
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return Unauthorized("Wrong username or password / 用户名或密码错误", code="invalid_credentials")
    waiting = throttle.refused(session, username, ip, now)
    if waiting is not None:
        return waiting
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if not verify_password(user.password_hash if user else None, password):
        throttle.record_failure(session, username, ip, now)
        return Unauthorized("Wrong username or password / 用户名或密码错误", code="invalid_credentials")
    if user.status != "active":
        # The password was right, so saying why does not leak anything.
        return Forbidden("Account is disabled / 账号已停用", code="account_disabled")
    throttle.record_success(session, username, ip)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    response = tokens.open_session(session, user, ip=ip, now=now)
    principal = {"user_id": user.id, "role": user.role, "sid": response["sid"], "ip": ip}
    audit(session, principal, "session.opened", "user", user.id, owner_id=user.id,
          detail={"sid": response["sid"]})
    response["user"] = me(session, principal)
    return response


def refresh(session, refresh_token: str, ip: str | None = None, now: dt.datetime | None = None) -> dict | DomainError:
    result = tokens.refresh(session, refresh_token, ip=ip, now=now)
    if isinstance(result, DomainError):
        return result
    user, response = result
    principal = {"user_id": user.id, "role": user.role, "sid": response["sid"], "ip": ip}
    response["user"] = me(session, principal)
    return response


def logout(session, principal: dict, now: dt.datetime | None = None) -> dict:
    principal = require_principal(principal)
    now = now or utcnow()
    auth = tokens.revoke_by_sid(session, principal.get("sid"), str(principal["user_id"]), "logout", now)
    if auth is None:
        raise NotFound("No such session / 会话不存在", code="session_not_found")
    return {"sid": auth.sid, "revoked_at": iso_utc(auth.revoked_at)}
