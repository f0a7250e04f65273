"""How far an account's real identity has been verified, and what each action needs.

The levels, weakest first (each includes the ones before it):

* `format_checked`: the USCC (GB 32100) or ID number (GB 11643) passed its check
  characters at registration. It proves the number is well-formed, nothing more.
* `phone_verified`: in addition, the account holder proved control of the mobile
  number by a one-time code.
* `licence_reviewed` (enterprises): in addition, an operator reviewed the uploaded
  business licence against the registered name and USCC and approved it.
* `externally_verified`: in addition to a verified phone, an external authority
  (a business-registry or public-security lookup plugged in as a verifier)
  confirmed the identity. None is configured by default.

Staff accounts (created by an admin) have no level (None): their identity is
established by whoever employs them, and no action below is theirs to take
under their own name.

Actions that need real names declare their level here, in ONE place, and refuse
below it with 403 `verification_level_required` naming both levels. Services
read the caller's level from the signed access token (`verification_level`
claim, principal["verification_level"]); a level that just rose reaches the
token at the next refresh.
"""
from __future__ import annotations

from .errors import VerificationLevelRequired

LEVELS = ("format_checked", "phone_verified", "licence_reviewed", "externally_verified")

LEVEL_NAMES_ZH = {"format_checked": "证照号码格式已校验", "phone_verified": "手机号已验证",
                  "licence_reviewed": "营业执照已审核", "externally_verified": "已通过权威核验"}

# action -> the lowest level it needs. Why each:
REQUIRED = {
    # An enterprise publishing online is seen by nobody on the platform: its
    # demand goes out under its name to institutions that act on it, so the name
    # must be backed by a reviewed licence, not just a well-formed code.
    "demand.publish": "licence_reviewed",
    # Staff file a demand for an enterprise they are dealing with. On site and on
    # a visit the staff member sees the enterprise (and its licence) in person and
    # is accountable for the entry (entered_by, audit): the account only has to
    # exist with a checked code. Demanding an online licence upload first would
    # shut out exactly the enterprises the window channel exists for.
    "demand.file.onsite": "format_checked",
    "demand.file.visit": "format_checked",
    # By telephone the staff member cannot see who calls; calling back the
    # account's number is the check, which means something only if that number
    # was verified.
    "demand.file.phone": "phone_verified",
    # Later slices: an institution must be able to reach whoever books or
    # complains, and a complaint names an institution, so both need a proven
    # contact; persons (who have no licence) can reach this level.
    "booking.create": "phone_verified",
    "complaint.create": "phone_verified",
}


def rank(level: str | None) -> int:
    """Position in LEVELS; -1 for no level (staff, or a token minted before levels existed)."""
    return LEVELS.index(level) if level in LEVELS else -1


def meets(current: str | None, required: str) -> bool:
    return rank(current) >= rank(required)


def required_for(action: str) -> str:
    try:
        return REQUIRED[action]
    except KeyError:
        # A programming error: an action that checks must be declared above.
        raise KeyError(f"no verification level declared for action {action!r}") from None


def require(action: str, current: str | None, subject: str = "caller") -> None:
    """Refuse with VerificationLevelRequired when `current` is below what `action` needs.

    `subject` says whose level it is: "caller" (the signed-in account) or
    "enterprise" (the enterprise a staff member acts for).
    """
    required = required_for(action)
    if not meets(current, required):
        raise VerificationLevelRequired(required, current, action, subject)
