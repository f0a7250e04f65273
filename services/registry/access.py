"""Who may do what in the registry (object-level checks; the pipeline checks the operation's roles).

The principal is built by the service from the verified access token of the call: role,
user id and the account's bindings (`institution_id`, `window_id`). Institution
staff act only on the institution their account is bound to.
"""
from __future__ import annotations

from services.common.errors import Forbidden, Unauthorized
from services.common.platform import APPLICANTS, OPERATORS, STAFF_READERS as READERS  # noqa: F401 (used as access.*)


def require_principal(principal) -> dict:
    if not isinstance(principal, dict) or not principal.get("user_id") or not principal.get("role"):
        raise Unauthorized("Sign in first / 请先登录")
    return principal


def require_role(principal, roles) -> dict:
    principal = require_principal(principal)
    if principal["role"] not in roles:
        raise Forbidden(f"Role '{principal['role']}' may not do this / 当前角色无权执行该操作")
    return principal


def is_staff_reader(principal) -> bool:
    return isinstance(principal, dict) and principal.get("role") in READERS


def require_own_institution(principal, institution_id: str) -> dict:
    """Operators act on any institution; institution staff only on their own."""
    principal = require_principal(principal)
    if principal["role"] in OPERATORS:
        return principal
    if principal["role"] == "institution" and principal.get("institution_id") == institution_id:
        return principal
    raise Forbidden("You may act only for your own institution / 只能操作本机构的信息", code="not_your_institution")


def require_institution_reader(principal, institution_id: str) -> dict:
    """Staff readers (operators, regulators) read any institution's records; institution staff their own."""
    principal = require_principal(principal)
    if not is_staff_reader(principal):
        require_own_institution(principal, institution_id)
    return principal
