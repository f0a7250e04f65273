"""The identity service's vocabularies, declared once: the models and the schemas import them from here.

Roles themselves are the platform's (services.common.platform.ROLES); what is
identity's own is which roles an account can get by which path, and the states
of accounts and of licence reviews.
"""
from __future__ import annotations

from services.common.platform import CUSTOMER_ROLES, ROLES, STAFF_ROLES
from services.common.verification_levels import LEVELS

SELF_REGISTERED_ROLES = CUSTOMER_ROLES          # register themselves (enterprise, person)
# Accounts an admin creates: staff of the platform, and institution staff.
STAFF_ACCOUNT_ROLES = ("institution", *STAFF_ROLES)
STATUSES = ("active", "disabled")
LICENCE_STATUSES = ("submitted", "returned", "approved")
LICENCE_DECISIONS = ("approve", "return")
CODE_PURPOSES = ("verify_phone",)
# user.verified: the step that raised the level, and the levels it can raise to.
VERIFICATION_ASPECTS = ("phone", "licence", "external")
RAISED_LEVELS = tuple(level for level in LEVELS if level != "format_checked")

__all__ = ["ROLES", "LEVELS", "SELF_REGISTERED_ROLES", "STAFF_ACCOUNT_ROLES", "STATUSES", "LICENCE_STATUSES",
           "LICENCE_DECISIONS", "CODE_PURPOSES", "VERIFICATION_ASPECTS", "RAISED_LEVELS"]
