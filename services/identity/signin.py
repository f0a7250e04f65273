"""Signing in, rotating the refresh token, signing out.

A failed sign-in is counted (throttle.py) and a reused refresh token revokes
its session: those changes must persist although the call fails, so the domain
returns the error and the operation commits before raising it
(principals.commit_then_raise).
"""
from __future__ import annotations

import datetime as dt

from prometheus_client import Counter
from sqlalchemy import select

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import DomainError, Forbidden, NotFound, Unauthorized

from . import throttle, tokens
from .models import User
from .passwords import hash_password, needs_rehash, verify_password
from .principals import commit_then_raise, require_principal
from .users import me_in_transaction

LOGINS = Counter("qi_identity_logins_total", "Sign-in attempts by outcome", ["outcome"])


def login(session, data: dict, client_ip: str | None = None) -> dict:
    """POST /auth/login: the token response with the user's own account."""
    try:
        result = commit_then_raise(session, sign_in(session, data["username"], data["password"], ip=client_ip))
    except DomainError as exc:
        LOGINS.labels(exc.code).inc()
        raise
    LOGINS.labels("ok").inc()
    return result


def sign_in(session, username: str, password: str, ip: str | None = None,
            now: dt.datetime | None = None) -> dict | DomainError:
    """Password sign-in; returns the token response, or the error to raise after the commit.

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
    response["user"] = me_in_transaction(session, principal)
    return response


def refresh(session, data: dict, client_ip: str | None = None, now: dt.datetime | None = None) -> dict:
    """POST /auth/refresh: spend the refresh token, get a new pair."""
    result = commit_then_raise(session, tokens.refresh(session, data["refresh_token"], ip=client_ip, now=now))
    user, response = result
    principal = {"user_id": user.id, "role": user.role, "sid": response["sid"], "ip": client_ip}
    response["user"] = me_in_transaction(session, principal)
    return response


def logout(session, principal: dict, now: dt.datetime | None = None) -> None:
    """POST /auth/logout: end the caller's own session (204)."""
    principal = require_principal(principal)
    now = now or utcnow()
    auth = tokens.revoke_by_sid(session, principal.get("sid"), str(principal["user_id"]), "logout", now)
    if auth is None:
        raise NotFound("No such session / 会话不存在", code="session_not_found")
    return None
