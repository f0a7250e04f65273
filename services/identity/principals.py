"""Who is calling: the caller's own account, checked against the database.

The pipeline already checked the token's role against the operation; these
checks use the database, so a token minted before a role change or a disabling
does not keep the old rights.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select

from services.common.errors import DomainError, Forbidden, Unauthorized

from .models import User

# The account by id as a plain row: every column, PII decrypted by its column type as the ORM would.
_ACCOUNT_ROW = select(User.__table__).where(User.__table__.c.id == bindparam("user_id"))


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
    return _checked(session.get(User, str(principal["user_id"])), principal)


def read_actor(session, principal):
    """`load_actor` for a read that changes nothing: the same checks on a plain row.

    GET /me runs on every page of the web and checks the account fresh each time; the
    ORM's `get` (identity map, instance state, loader) was a third of identity's CPU for
    it. The row has the model's attribute names and cannot be changed or flushed.
    """
    principal = require_principal(principal)
    return _checked(session.execute(_ACCOUNT_ROW, {"user_id": str(principal["user_id"])}).first(), principal)


def _checked(user, principal: dict):
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


def commit_then_raise(session, result):
    """`result`, or, when the domain returned an error, commit what the call changed and raise it.

    For failures that must persist (a counted failed sign-in, a wrong one-time
    code, a session revoked on refresh-token reuse): raising inside the
    transaction would roll the counter back with it.
    """
    if isinstance(result, DomainError):
        session.commit()
        raise result
    return result
