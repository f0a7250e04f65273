"""Access tokens (JWT) and refresh-token sessions.

An access token is a short-lived JWT signed by identity alone with its Ed25519
key (EdDSA); the gateway and every service verify it with the public key
(services.common.caller), so no other party can mint one. A
refresh token is an opaque random string, stored only as its SHA-256 (it has
256 bits of entropy, so an unsalted fast hash is enough) and rotated on every
use. Each login is one `AuthSession`, the family of its refresh tokens.

Presenting a refresh token that was already rotated means two parties hold the
family, the legitimate client and a thief, and the server cannot tell which is
which; the whole session is revoked (RFC 9700 §4.14.2). The price: two tabs that
refresh at the same instant with the same token sign the user out.

Revocation must reach every gateway and service before the session's access
tokens expire: `user.session_revoked` carries the sid and the moment its last
access token expires, and `revoked_sessions()` replays the same list to a
process that starts. Identity itself asks its database (`session_revoked`).

Functions that must persist a change even though the call fails (revoking on
reuse) return the error instead of raising it, so the caller commits first.
"""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import secrets
import uuid

import jwt
from sqlalchemy import select

from services.common import caller, config
from services.common.db import utcnow
from services.common.errors import DomainError, Unauthorized
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import levels
from .models import AuthSession, RefreshTokenRecord, User

ISSUER = caller.ISSUER
ALGORITHM = caller.ALGORITHM
SOURCE = "identity"
# Session.info key: sessions revoked in this transaction, applied to this process's in-memory
# check (revocations.SessionRevocations) once it commits.
PENDING_REVOCATIONS = "qi.revoked_sessions"


def _epoch(moment: dt.datetime) -> int:
    return calendar.timegm(moment.timetuple())


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_access_token(user: User, sid: str, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    now = now or utcnow()
    expires = now + dt.timedelta(seconds=config.access_token_ttl())
    claims = {
        "iss": ISSUER,
        "sub": user.id,
        "role": user.role,
        "sid": sid,
        "iat": _epoch(now),
        "exp": _epoch(expires),
        "jti": str(uuid.uuid4()),
        # services.common.verification_levels; None for staff. Rises reach services at the next refresh.
        "verification_level": levels.level_of(user),
    }
    # Bindings travel in the token so object-level checks ("a window sees its
    # own visits") need no extra call to identity.
    if user.window_id:
        claims["window_id"] = user.window_id
    if user.institution_id:
        claims["institution_id"] = user.institution_id
    return jwt.encode(claims, caller.signing_key(), algorithm=ALGORITHM), expires


def decode_access_token(token: str) -> dict:
    """Verified claims of an access token, or Unauthorized (bad signature, expired, wrong issuer)."""
    return caller.verify_token(token)


def principal_from_claims(claims: dict, ip: str | None = None) -> dict:
    return caller.principal_from_claims(claims, ip=ip)


def session_revoked(session, sid: str) -> bool:
    """True unless `sid` is a live session, by identity's own table (revocations.py keeps the
    answer in memory for the calls)."""
    auth = session.get(AuthSession, sid)
    return auth is None or auth.revoked_at is not None


def _new_refresh_token(session, auth: AuthSession, now: dt.datetime) -> str:
    token = secrets.token_urlsafe(32)
    token_hash = hash_refresh_token(token)
    auth.refresh_token_hash = token_hash
    session.add(RefreshTokenRecord(token_hash=token_hash, sid=auth.sid, rotation=auth.rotation, issued_at=now))
    return token


def _token_response(user: User, auth: AuthSession, refresh_token: str, now: dt.datetime) -> dict:
    access, access_expires = issue_access_token(user, auth.sid, now)
    auth.access_expires_at = max(auth.access_expires_at or access_expires, access_expires)
    return {"access_token": access, "refresh_token": refresh_token, "token_type": "Bearer",
            "expires_in": config.access_token_ttl(), "sid": auth.sid,
            "refresh_expires_at": iso_utc(auth.expires_at)}


def open_session(session, user: User, ip: str | None = None, now: dt.datetime | None = None) -> dict:
    """Start a login session; returns the token response (without the user view)."""
    now = now or utcnow()
    auth = AuthSession(sid=str(uuid.uuid4()), user_id=user.id, rotation=0, created_at=now,
                       expires_at=now + dt.timedelta(seconds=config.refresh_token_ttl()),
                       access_expires_at=now, last_ip=ip, last_used_at=now)
    refresh_token = _new_refresh_token(session, auth, now)
    session.add(auth)
    session.flush()
    return _token_response(user, auth, refresh_token, now)


def refresh(session, refresh_token: str, ip: str | None = None,
            now: dt.datetime | None = None) -> tuple[User, dict] | DomainError:
    """Rotate: the presented token is spent, a new pair comes back.

    The session's lifetime is fixed at login (no sliding), so a stolen refresh
    token cannot keep a session alive forever.
    """
    now = now or utcnow()
    if not refresh_token or not isinstance(refresh_token, str):
        return Unauthorized("Invalid refresh token / 刷新令牌无效", code="invalid_refresh_token")
    record = session.get(RefreshTokenRecord, hash_refresh_token(refresh_token))
    if record is None:
        return Unauthorized("Invalid refresh token / 刷新令牌无效", code="invalid_refresh_token")
    auth = session.get(AuthSession, record.sid)
    if auth.revoked_at is not None:
        return Unauthorized("Session has ended, sign in again / 会话已结束，请重新登录", code="session_revoked")
    if record.rotated_at is not None or record.token_hash != auth.refresh_token_hash:
        revoke(session, auth, "refresh_reuse", now)
        return Unauthorized("Refresh token was already used; the session is revoked for safety / "
                            "刷新令牌被重复使用，会话已注销", code="refresh_token_reused")
    if auth.expires_at <= now:
        return Unauthorized("Session expired, sign in again / 会话已过期，请重新登录", code="session_expired")
    user = session.get(User, auth.user_id)
    if user is None or user.status != "active":
        revoke(session, auth, "account_disabled", now)
        return Unauthorized("Account is disabled / 账号已停用", code="account_disabled")
    record.rotated_at = now
    auth.rotation += 1
    auth.last_ip = ip or auth.last_ip
    auth.last_used_at = now
    new_token = _new_refresh_token(session, auth, now)
    session.flush()
    return user, _token_response(user, auth, new_token, now)


def revoke(session, auth: AuthSession, reason: str, now: dt.datetime | None = None) -> bool:
    """Revoke one session (idempotent) and announce it; True if it was live."""
    if auth.revoked_at is not None:
        return False
    now = now or utcnow()
    auth.revoked_at = now
    auth.revoked_reason = reason
    record_event(session, SOURCE, "user.session_revoked", subject=auth.user_id, data={
        "user_id": auth.user_id, "sid": auth.sid, "revoked_at": iso_utc(now),
        "expires_at": iso_utc(auth.access_expires_at),
    })
    session.info.setdefault(PENDING_REVOCATIONS, []).append((auth.sid, _epoch(auth.access_expires_at)))
    return True


def revoke_user_sessions(session, user_id: str, reason: str, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    live = session.scalars(select(AuthSession).where(AuthSession.user_id == user_id)
                           .where(AuthSession.revoked_at.is_(None))
                           .where(AuthSession.expires_at > now)).all()
    return sum(revoke(session, auth, reason, now) for auth in live)


def revoke_by_sid(session, sid: str | None, user_id: str, reason: str = "logout",
                  now: dt.datetime | None = None) -> AuthSession | None:
    """Logout: end the caller's own session. Another user's sid is treated as unknown."""
    auth = session.get(AuthSession, sid) if sid else None
    if auth is None or auth.user_id != user_id:
        return None
    revoke(session, auth, reason, now)
    return auth


def revoked_sessions(session, now: dt.datetime | None = None) -> list[dict]:
    """Revoked sessions whose access tokens may still be presented: the deny-list."""
    now = now or utcnow()
    rows = session.scalars(select(AuthSession).where(AuthSession.revoked_at.is_not(None))
                           .where(AuthSession.access_expires_at > now)
                           .order_by(AuthSession.access_expires_at)).all()
    return [{"sid": r.sid, "expires_at": iso_utc(r.access_expires_at),
             "expires_at_epoch": _epoch(r.access_expires_at)} for r in rows]
