"""Self-registration of enterprises and persons (R-6.1.1), and the registration throttle.

Real-name verification (后台实名、前台自愿) is a level, not a flag
(services.common.verification_levels, computed by levels.level_of):

* `format_checked`: the USCC (GB 32100) or ID number (GB 11643) passed its check
  characters at registration. That proves the number is well-formed, not that
  the enterprise exists or that the registrant acts for it.
* `phone_verified`: the mobile number passed a one-time code (verification.py).
* `licence_reviewed`: an operator approved the uploaded business licence (licence.py).
* `externally_verified`: a configured external verifier confirmed it (external.py).

`identity_verified` means "verified beyond the format" (licence reviewed or
external check); it does not turn true on a checksum. Registration announces
`user.registered` with the level `format_checked`; `user.verified` goes out
when the level rises. Events carry ids, roles and nicknames only.

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

import datetime as dt
import hashlib
import hmac
import ipaddress
import math

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import config, pii
from services.common.db import utcnow
from services.common.errors import Conflict, DomainError, TooManyRequests, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import levels
from .contract.vocabulary import SELF_REGISTERED_ROLES
from .models import RegistrationConflict, User, new_id
from .passwords import hash_password
from .users import Shown

SOURCE = "identity"
REGISTRATION_CONFLICT = "registration_conflict"
# Ten is ample for someone who mistyped or forgot they had an account, and
# far too few to test a list of numbers.
REGISTRATION_CONFLICT_LIMIT = 10
REGISTRATION_CONFLICT_WINDOW = dt.timedelta(hours=1)


def register_account(session, data: dict, kind: str, client_ip: str | None = None) -> Shown:
    """POST /auth/register/{enterprise,person}: throttle, register, count a refused one.

    Runs inside the operation's Idempotency-Key handling: replaying a stored
    result is never throttled.
    """
    refused = registration_refused(session, client_ip)
    if refused is not None:
        raise refused
    try:
        user = register(session, {**data, "kind": kind})
    except Conflict as exc:
        if exc.code == REGISTRATION_CONFLICT:
            # The refused registration rolls back (possibly after a failed flush, which leaves
            # the session unusable); the refusal is counted in a transaction of its own.
            session.rollback()
            with Session(session.get_bind()) as own, own.begin():
                record_registration_conflict(own, client_ip)
        raise
    return Shown(user)


def username_taken_check(session, username: str) -> None:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("Username is taken / 用户名已被占用", code="username_taken",
                       errors={"username": ["用户名已被占用 / already taken"]})


def registration_conflict() -> Conflict:
    """The one answer for "these identity details already have an account", whichever matched.

    No `errors` and no field name: a per-field message would say which of the
    caller's phone / ID number / credit code is registered.
    """
    return Conflict("These identity details cannot be used to register. If you already have an account, sign in; "
                    "otherwise contact a service window / 该身份信息无法用于注册：如已有账号请直接登录，"
                    "否则请联系服务窗口", code=REGISTRATION_CONFLICT)


def identity_taken(session, kind: str, phone_bidx: str, id_bidx: str | None, uscc: str | None) -> bool:
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


def flush_new(session, user: User, race: Conflict | None = None) -> None:
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


def register(session, data: dict, now: dt.datetime | None = None, password_hash: str | None = None) -> User:
    """Self-registration; `data` is a loaded RegisterEnterprise / RegisterPerson.

    Throttling (registration_refused / record_registration_conflict) is the
    operation's (register_account): the demo loader registers through here without a client.
    `password_hash`: an Argon2 hash of `data["password"]` made once for many demo accounts
    (the load test's pool, demo.seed_load_pool); a real registration always hashes here.
    """
    now = now or utcnow()
    kind = data["kind"]
    if kind not in SELF_REGISTERED_ROLES:
        raise ValidationFailed("Unknown account kind / 未知账号类型", errors={"kind": ["enterprise or person"]})
    phone_bidx = pii.blind_index("phone", data["phone"])
    id_bidx = pii.blind_index("id_number", data["id_number"]) if kind == "person" else None
    username_taken_check(session, data["username"])
    if identity_taken(session, kind, phone_bidx, id_bidx, data.get("uscc")):
        raise registration_conflict()
    user = User(id=new_id(), username=data["username"], role=kind, status="active", nickname=data["nickname"],
                phone=data["phone"], phone_bidx=phone_bidx,
                password_hash=password_hash or hash_password(data["password"]),
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
    flush_new(session, user, race=registration_conflict())
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
