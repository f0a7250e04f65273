"""Request and response schemas of accounts, sign-in and phone verification (the single source).

The gateway renders them into the OpenAPI document; the service's pipeline loads
every body and query with them, once, and dumps every answer with them. A
response schema dumps the domain's objects: `UserOut` takes the shown account
(services.identity.users.Shown: masked unless revealed), timestamps are dumped
as ISO 8601 UTC by the fields.
"""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema, load  # noqa: F401 (load re-exported for the demo and tests)

from .schemas_fields import (PASSWORD_MAX, IdNumber, Mobile, Strict, Uscc, mobile, nickname, password, timestamp,
                             username)
from .vocabulary import CODE_PURPOSES, LEVELS, ROLES, STAFF_ACCOUNT_ROLES, STATUSES


# --- requests -------------------------------------------------------------------

class RegisterEnterprise(Strict):
    """Self-registration of an enterprise account (R-6.1.1)."""

    kind = fields.String(load_default="enterprise", validate=validate.OneOf(["enterprise"]),
                         metadata={"description": "Always 'enterprise' (optional in the body)"})
    username = username()
    password = password()
    phone = mobile()
    nickname = nickname()
    org_name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=200),
                             metadata={"description": "Registered name of the enterprise as on the business licence"})
    uscc = Uscc(required=True, metadata={
        "description": "Unified social credit code (统一社会信用代码, GB 32100, 18 characters with check "
                       "character); passing the check verifies the enterprise identity",
        "example": "91321202MA1XXXXX0C"})
    contact_name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=50),
                                 metadata={"description": "Real name of the contact person; stored encrypted, "
                                                          "shown masked"})


class RegisterPerson(Strict):
    """Self-registration of a natural person (R-6.1.1)."""

    kind = fields.String(load_default="person", validate=validate.OneOf(["person"]),
                         metadata={"description": "Always 'person' (optional in the body)"})
    username = username()
    password = password()
    phone = mobile()
    nickname = nickname()
    real_name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=50),
                              metadata={"description": "Real name as on the ID card; stored encrypted, shown masked"})
    id_number = IdNumber(required=True, metadata={
        "description": "Resident ID number (居民身份证号, GB 11643, 18 characters with check digit); "
                       "stored encrypted, shown masked"})


class CreateStaff(Strict):
    """An admin creates a staff account; `window` staff are bound to one window,
    `institution` staff to one institution."""

    username = username()
    password = password()
    role = fields.String(required=True, validate=validate.OneOf(STAFF_ACCOUNT_ROLES),
                         metadata={"description": "One of " + ", ".join(STAFF_ACCOUNT_ROLES)})
    nickname = nickname()
    real_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=50),
                              metadata={"description": "Real name of the staff member; stored encrypted"})
    phone = mobile(required=False)
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


class Login(Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "Login name"})
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=PASSWORD_MAX),
                             metadata={"description": "Password", "format": "password"})


class Refresh(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                  metadata={"description": "The refresh token from login or the previous refresh; "
                                                           "single use (a reused one ends the session)"})


class PhoneCodeRequest(Strict):
    purpose = fields.String(load_default="verify_phone", validate=validate.OneOf(CODE_PURPOSES),
                            metadata={"description": "What the code is for"})


class PhoneCodeVerify(Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{6}$", error="须为 6 位数字 / must be 6 digits"),
                         metadata={"description": "The 6-digit code received by SMS", "example": "123456"})
    purpose = fields.String(load_default="verify_phone", validate=validate.OneOf(CODE_PURPOSES),
                            metadata={"description": "What the code is for"})


class RoleChange(Strict):
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"description": "New role: one of " + ", ".join(ROLES)})
    window_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                              metadata={"description": "Window binding (needed when the new role is window and "
                                                       "the account has none)"})
    institution_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                                   metadata={"description": "Institution binding (needed for role institution)"})


class StatusChange(Strict):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES),
                           metadata={"description": "active or disabled"})
    reason = fields.MultilineString(required=True, blank=False, validate=validate.Length(min=1, max=500),
                                    metadata={"description": "Why (kept in the audit log)"})


class FindByPhone(Strict):
    phone = Mobile(required=True, metadata={"description": "Mobile number to look up (exact match)"})


class UserQuery(Strict):
    reveal = fields.Boolean(load_default=False, metadata={
        "description": "Return full ID number, phone and real name (operators, admins, and the owner only; "
                       "audited)"})


class UserListQuery(Strict):
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
    status = fields.String(metadata={"enum": list(STATUSES)})
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
    format_checked_at = timestamp("When the USCC / ID number passed its check characters")
    phone_verified_at = timestamp("When the phone passed the one-time code")
    licence_reviewed_at = timestamp("When an operator approved the business licence")
    externally_verified_at = timestamp("When an external verifier confirmed the identity")
    identity_verified_at = timestamp("When the identity was first verified beyond its format")
    window_id = fields.String(allow_none=True)
    institution_id = fields.String(allow_none=True)
    created_at = timestamp("Registration time")
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
    refresh_expires_at = timestamp("End of the session: sign in again after this")
    user = fields.Nested(MeOut)


class PhoneCodeSent(Schema):
    challenge_id = fields.String()
    purpose = fields.String()
    phone = fields.String(metadata={"description": "Masked number the code was sent to"})
    expires_at = timestamp("The code is void after this")
    resend_after = timestamp("No new code before this")


class RevokedSession(Schema):
    sid = fields.String()
    expires_at = timestamp("Until then the session's access tokens must be refused")
