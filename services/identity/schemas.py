"""Request and response schemas of the identity service: the single source.

The gateway validates HTTP bodies with these very classes and renders them into
the OpenAPI document; the service validates again on its side (a caller is never
trusted). A loaded result is JSON-able and loads again to itself, so what the
gateway forwards passes the service's second check unchanged.

Identity numbers are checked here, per field, with the check-character
algorithms of GB 32100 (USCC) and GB 11643 (resident ID); see services.common.pii.
"""
from __future__ import annotations

import re

from marshmallow import RAISE, ValidationError, validates_schema

from services.common import errors, fields, pii, validate
from services.common.schemas import Schema, load  # noqa: F401 (load re-exported for the service)

from services.common.verification_levels import LEVELS

from .models import LICENCE_STATUSES, ROLES, STAFF_ROLES

PASSWORD_MIN = 10
# Argon2 cost does not grow with length, but an unbounded body is still a cheap DoS.
PASSWORD_MAX = 128
CODE_PURPOSES = ("verify_phone",)

_USERNAME = re.compile(r"[a-z][a-z0-9_.\-]{2,63}")


# --- fields ---------------------------------------------------------------------

class _CheckedString(fields.String):
    """A string normalized by one of pii's check functions, errors kept per field.

    The input must first match `pattern` (which the document shows), then pass the
    check characters (which it can only describe).
    """

    check = None
    pattern = ""
    format_error = ""

    def __init__(self, **kwargs):
        kwargs["metadata"] = {**kwargs.get("metadata", {}), "pattern": self.pattern}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(self.pattern, text):
            raise ValidationError(self.format_error)
        name = self.data_key or self.name or attr or "value"
        try:
            return type(self).check(text, field=name)
        except errors.ValidationFailed as exc:
            raise ValidationError(exc.errors.get(name) or [exc.detail]) from None


class Uscc(_CheckedString):
    """Unified social credit code, GB 32100 (18 chars, check character)."""

    check = staticmethod(pii.check_uscc)
    pattern = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
    format_error = "须为 18 位统一社会信用代码 / must be 18 characters of a unified social credit code"


class IdNumber(_CheckedString):
    """Resident ID number, GB 11643 (18 chars, check digit)."""

    check = staticmethod(pii.check_id_number)
    pattern = r"^[0-9]{17}[0-9Xx]$"
    format_error = "须为 18 位身份证号 / must be an 18-character ID number"


class Mobile(_CheckedString):
    """Mainland mobile number; +86 and single spaces or hyphens between digits are accepted and dropped."""

    check = staticmethod(pii.check_mobile)
    pattern = r"^(\+86[ -]?)?1[3-9][0-9]([ -]?[0-9]){8}$"
    format_error = "须为 11 位中国大陆手机号 / must be an 11-digit mainland China mobile number"


class Username(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).lower()
        # Starting with a letter keeps phone and ID numbers out of usernames,
        # which are stored and logged in clear.
        if not _USERNAME.fullmatch(text):
            raise ValidationError("用户名须以字母开头，3–64 位字母、数字或 _.- / "
                                  "username: 3-64 letters, digits or _.- starting with a letter")
        return text




def _username(description="Login name: 3-64 letters, digits or _.- starting with a letter; case-insensitive"):
    return Username(required=True, metadata={"description": description, "example": "ent-demo",
                                             "pattern": "^[A-Za-z][A-Za-z0-9_.-]{2,63}$"})


def _password():
    return fields.String(required=True, load_only=True,
                         blank=False, validate=validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX),
                         metadata={"description": f"Password, {PASSWORD_MIN}-{PASSWORD_MAX} characters",
                                   "format": "password"})


def _nickname(required=True):
    return fields.String(required=required, blank=False, validate=validate.Length(min=1, max=64),
                         metadata={"description": "Public display name (前台自愿): shown instead of the real identity"})


def _mobile(required=True):
    return Mobile(required=required, metadata={
        "description": "Mainland China mobile number, 11 digits (+86 allowed); verified later by one-time code; "
                       "stored encrypted, shown masked"})


def _timestamp(description):
    return fields.String(allow_none=True, metadata={"format": "date-time", "description": description})


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# --- requests -------------------------------------------------------------------

class RegisterEnterprise(_Strict):
    """Self-registration of an enterprise account (R-6.1.1)."""

    kind = fields.String(load_default="enterprise", validate=validate.OneOf(["enterprise"]),
                         metadata={"description": "Always 'enterprise' (optional in the body)"})
    username = _username()
    password = _password()
    phone = _mobile()
    nickname = _nickname()
    org_name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=200),
                             metadata={"description": "Registered name of the enterprise as on the business licence"})
    uscc = Uscc(required=True, metadata={
        "description": "Unified social credit code (统一社会信用代码, GB 32100, 18 characters with check "
                       "character); passing the check verifies the enterprise identity",
        "example": "91321202MA1XXXXX0C"})
    contact_name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=50),
                                 metadata={"description": "Real name of the contact person; stored encrypted, "
                                                          "shown masked"})


class RegisterPerson(_Strict):
    """Self-registration of a natural person (R-6.1.1)."""

    kind = fields.String(load_default="person", validate=validate.OneOf(["person"]),
                         metadata={"description": "Always 'person' (optional in the body)"})
    username = _username()
    password = _password()
    phone = _mobile()
    nickname = _nickname()
    real_name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=50),
                              metadata={"description": "Real name as on the ID card; stored encrypted, shown masked"})
    id_number = IdNumber(required=True, metadata={
        "description": "Resident ID number (居民身份证号, GB 11643, 18 characters with check digit); "
                       "stored encrypted, shown masked"})


REGISTER_SCHEMAS = {"enterprise": RegisterEnterprise, "person": RegisterPerson}


class CreateStaff(_Strict):
    """An admin creates a staff account; `window` staff are bound to one window,
    `institution` staff to one institution."""

    username = _username()
    password = _password()
    role = fields.String(required=True, validate=validate.OneOf(STAFF_ROLES),
                         metadata={"description": "One of " + ", ".join(STAFF_ROLES)})
    nickname = _nickname()
    real_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=50),
                              metadata={"description": "Real name of the staff member; stored encrypted"})
    phone = _mobile(required=False)
    institution_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                                   metadata={"description": "Institution the account acts for (role institution)"})
    window_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                              metadata={"description": "Service window the account is bound to (role window)"})

    @validates_schema
    def _binding(self, data, **kwargs):
        check_binding(data.get("role"), data.get("window_id"), data.get("institution_id"))


def check_binding(role, window_id, institution_id) -> None:
    """Window staff need a window, institution staff an institution (object-level checks build on it)."""
    if role == "window" and not window_id:
        raise ValidationError("窗口人员必须绑定窗口 / a window account needs window_id", "window_id")
    if role == "institution" and not institution_id:
        raise ValidationError("机构人员必须绑定机构 / an institution account needs institution_id",
                              "institution_id")


class Login(_Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "Login name"})
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=PASSWORD_MAX),
                             metadata={"description": "Password", "format": "password"})


class Refresh(_Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                  metadata={"description": "The refresh token from login or the previous refresh; "
                                                           "single use (a reused one ends the session)"})


class PhoneCodeRequest(_Strict):
    purpose = fields.String(load_default="verify_phone", validate=validate.OneOf(CODE_PURPOSES),
                            metadata={"description": "What the code is for"})


class PhoneCodeVerify(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{6}$", error="须为 6 位数字 / must be 6 digits"),
                         metadata={"description": "The 6-digit code received by SMS", "example": "123456"})
    purpose = fields.String(load_default="verify_phone", validate=validate.OneOf(CODE_PURPOSES),
                            metadata={"description": "What the code is for"})


class RoleChange(_Strict):
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"description": "New role: one of " + ", ".join(ROLES)})
    window_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                              metadata={"description": "Window binding (needed when the new role is window and "
                                                       "the account has none)"})
    institution_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                                   metadata={"description": "Institution binding (needed for role institution)"})


class StatusChange(_Strict):
    status = fields.String(required=True, validate=validate.OneOf(["active", "disabled"]),
                           metadata={"description": "active or disabled"})
    reason = fields.MultilineString(required=True, blank=False, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Why (kept in the audit log)"})


class FindByPhone(_Strict):
    phone = Mobile(required=True, metadata={"description": "Mobile number to look up (exact match)"})


class UserQuery(_Strict):
    reveal = fields.Boolean(load_default=False, metadata={
        "description": "Return full ID number, phone and real name (operators, admins, and the owner only; "
                       "audited)"})


class UserListQuery(_Strict):
    role = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ROLES),
                         metadata={"description": "Only users of this role"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200),
                           metadata={"description": "Page size"})
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                           metadata={"description": "next_cursor of the previous page"})


# --- responses ------------------------------------------------------------------

class UserOut(Schema):
    """An account as others see it: personal data masked unless revealed."""

    id = fields.String(metadata={"description": "User id (UUID)"})
    username = fields.String()
    role = fields.String(metadata={"enum": list(ROLES)})
    status = fields.String(metadata={"enum": ["active", "disabled"]})
    nickname = fields.String(metadata={"description": "Public display name"})
    real_name = fields.String(allow_none=True, metadata={"description": "Masked (张**) unless revealed"})
    id_number = fields.String(allow_none=True, metadata={"description": "Masked (3212**********291X) unless revealed"})
    phone = fields.String(allow_none=True, metadata={"description": "Masked (138****8000) unless revealed"})
    org_name = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True, metadata={"description": "Unified social credit code (public business data)"})
    verification_level = fields.String(allow_none=True, metadata={
        "enum": list(LEVELS) + [None],
        "description": "How far the real identity is verified, weakest first: " + ", ".join(LEVELS)
                       + " (cumulative); null for staff accounts"})
    phone_verified = fields.Boolean()
    identity_verified = fields.Boolean(metadata={
        "description": "True once the identity is verified beyond its format (licence reviewed or external "
                       "check); a passed checksum alone is format_checked, not verified"})
    format_checked_at = _timestamp("When the USCC / ID number passed its check characters")
    phone_verified_at = _timestamp("When the phone passed the one-time code")
    licence_reviewed_at = _timestamp("When an operator approved the business licence")
    externally_verified_at = _timestamp("When an external verifier confirmed the identity")
    identity_verified_at = _timestamp("When the identity was first verified beyond its format")
    window_id = fields.String(allow_none=True)
    institution_id = fields.String(allow_none=True)
    created_at = _timestamp("Registration time")
    pii_revealed = fields.Boolean(metadata={"description": "True when the personal fields above are unmasked"})


class MeOut(UserOut):
    """The signed-in account, plus the session the token belongs to."""

    sid = fields.String(allow_none=True, metadata={"description": "Current session id"})


class UserPage(Schema):
    items = fields.List(fields.Nested(UserOut))
    next_cursor = fields.String(allow_none=True)
    total = fields.Integer()


class TokenOut(Schema):
    access_token = fields.String(metadata={
        "description": "JWT signed by identity (EdDSA, Ed25519), send as 'Authorization: Bearer ...'"})
    refresh_token = fields.String(metadata={"description": "Opaque, single use"})
    token_type = fields.String(metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(metadata={"description": "Seconds the access token lives"})
    sid = fields.String(metadata={"description": "Session id (also the token's sid claim)"})
    refresh_expires_at = _timestamp("End of the session: sign in again after this")
    user = fields.Nested(MeOut)


class PhoneCodeSent(Schema):
    challenge_id = fields.String()
    purpose = fields.String()
    phone = fields.String(metadata={"description": "Masked number the code was sent to"})
    expires_at = _timestamp("The code is void after this")
    resend_after = _timestamp("No new code before this")


class RevokedSession(Schema):
    sid = fields.String()
    expires_at = _timestamp("Until then the session's access tokens must be refused")


# --- business licence review and external verification ---------------------------

class LicenceUpload(_Strict):
    filename = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=200),
                             metadata={"description": "File name (informative; the type is read from the bytes)"})
    content_base64 = fields.String(required=True, validate=validate.Length(min=1, max=14_000_000), metadata={
        "description": "The business licence scan, base64: PDF, JPEG or PNG, at most 10 MiB"})


class LicenceDecision(_Strict):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "return"]),
                             metadata={"description": "approve, or return to the enterprise for correction"})
    reason = fields.MultilineString(load_default=None, allow_none=True, blank=False,
                                    validate=validate.Length(min=1, max=1000),
                                    metadata={"description": "Why the licence is returned (required to return); "
                                                             "shown to the enterprise"})

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"decision": {"const": "approve"}}},
                               {"required": ["reason"], "properties": {"reason": {"type": "string"}}}],
                     "description": "reason is required to return"}

    @validates_schema
    def _reason(self, data, **kwargs):
        if data.get("decision") == "return" and not (data.get("reason") or "").strip():
            raise ValidationError("退回须说明原因 / required when returning", "reason")


class LicenceQueueQuery(_Strict):
    status = fields.String(load_default="submitted", validate=validate.OneOf(LICENCE_STATUSES),
                           metadata={"description": "Reviews in this state (default: awaiting review)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class LicenceFileRef(Schema):
    file_id = fields.String(metadata={"description": "SHA-256 of the file"})
    filename = fields.String()
    media_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)


class LicenceReviewOut(Schema):
    user_id = fields.String()
    nickname = fields.String()
    org_name = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(LICENCE_STATUSES)})
    round = fields.Integer(metadata={"description": "1 for the first upload, +1 per resubmission"})
    file = fields.Nested(LicenceFileRef)
    submitted_at = _timestamp("Latest upload")
    decided_at = _timestamp("Latest decision")
    return_reason = fields.String(allow_none=True)
    verification_level = fields.String(allow_none=True)
    review_clock = fields.Dict(allow_none=True, metadata={"description": "SLA clock identity.licence_review "
                                                                         "(working days)"})
    history = fields.List(fields.Dict())


class LicenceQueueOut(Schema):
    items = fields.List(fields.Nested(LicenceReviewOut))


class LicenceFileOut(LicenceFileRef):
    content_base64 = fields.String()


class ExternalVerificationOut(Schema):
    verified = fields.Boolean()
    verifier = fields.String()
    reason = fields.String(allow_none=True)
    verified_at = _timestamp("When the verifier confirmed")
    verification_level = fields.String(allow_none=True)
