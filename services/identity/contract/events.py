"""The events identity publishes on `identity.events`: one payload schema per type and version.

`record_event` validates every payload against these before it enters the
outbox. Ids, roles, levels and nicknames only: never an ID number, a phone or
a real name. Each schema is the `data` of its envelope in docs/asyncapi.yaml
(same fields, same required ones, same types).
"""
from __future__ import annotations

from services.common import fields, validate
from services.common.operations import EventType
from services.common.sla_events import clock_closed_of
from services.common.schemas import Schema

from .vocabulary import LEVELS, RAISED_LEVELS, ROLES, STATUSES, VERIFICATION_ASPECTS

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"


def _user_id(**kwargs):
    return fields.String(required=True, validate=validate.Regexp(UUID_PATTERN), metadata={
        "format": "uuid", "description": "Platform user id (UUID). Never an ID-card or phone number."}, **kwargs)


def _utc(description="ISO 8601 / RFC 3339 date-time in UTC, ending in `Z`.", **kwargs):
    return fields.String(required=True, validate=validate.Regexp(UTC_PATTERN),
                         metadata={"format": "date-time", "description": description}, **kwargs)


def _role():
    return fields.String(required=True, validate=validate.OneOf(ROLES), metadata={"description": "Platform role."})


def _level(required=False):
    return fields.String(required=required, allow_none=True, validate=validate.OneOf(LEVELS), metadata={
        "enum": list(LEVELS) + [None],
        "description": "How far the account's real identity is verified, weakest first (cumulative); null for "
                       "staff accounts. format_checked only means the USCC / ID number is well-formed."})


def _staff_id(description):
    return fields.String(required=True, validate=validate.Length(min=1), metadata={"description": description})


class UserRegisteredData(Schema):
    user_id = _user_id()
    role = _role()
    nickname = fields.String(required=True, metadata={
        "description": "Public nickname chosen by the user (not the real name)."})
    registered_at = _utc()
    verification_level = _level()


class UserVerifiedData(Schema):
    user_id = _user_id()
    aspect = fields.String(required=True, validate=validate.OneOf(VERIFICATION_ASPECTS), metadata={
        "description": "The step that raised the level; `phone` = mobile number by one-time code, `licence` = "
                       "business licence approved by an operator, `external` = confirmed by the configured "
                       "external verifier."})
    level = fields.String(required=True, validate=validate.OneOf(RAISED_LEVELS),
                          metadata={"description": "The account's verification level after this step."})
    previous_level = _level()
    verified_at = _utc()


class UserRoleChangedData(Schema):
    user_id = _user_id()
    old_role = _role()
    new_role = _role()
    changed_by = _staff_id("User id of the administrator who made the change.")


class UserSessionRevokedData(Schema):
    user_id = _user_id()
    sid = fields.String(required=True, validate=validate.Length(min=1),
                        metadata={"description": "Session id (the `sid` claim of the session's tokens)."})
    revoked_at = _utc()
    expires_at = _utc("When the session's refresh token would have expired; keep the revocation until then.")


class UserStatusChangedData(Schema):
    user_id = _user_id()
    old_status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    new_status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    changed_by = _staff_id("User id of the operator or administrator who made the change.")
    changed_at = _utc()


USER = "8d2f4b6a-1c3e-4f5a-b7d9-0e1a2b3c4d5e"
STAFF = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"

EVENTS = (
    EventType("user.registered", UserRegisteredData, "A user account was created / 用户注册",
              description="Published when a user registers (or an admin creates an account).",
              example={"user_id": USER, "role": "enterprise", "nickname": "Lakeside Valve Works",
                       "registered_at": "2025-03-14T02:15:09.470000Z", "verification_level": "format_checked"}),
    EventType("user.verified", UserVerifiedData, "A user's verification level rose / 用户实名核验等级提升",
              description="Sent whenever an account's verification level rises; `level` is the new level, "
                          "`aspect` the step that raised it. Levels, weakest first: format_checked (USCC / ID "
                          "number passed its check characters at registration; announced in user.registered, "
                          "never here), phone_verified, licence_reviewed (an operator approved the uploaded "
                          "business licence), externally_verified (a configured external verifier confirmed the "
                          "identity). The verified values themselves are never included.",
              example={"user_id": USER, "aspect": "licence", "level": "licence_reviewed",
                       "previous_level": "phone_verified", "verified_at": "2025-03-14T02:31:46.990000Z"}),
    EventType("user.role_changed", UserRoleChangedData, "An administrator changed a user's role / 用户角色变更",
              example={"user_id": USER, "old_role": "person", "new_role": "window", "changed_by": STAFF}),
    EventType("user.session_revoked", UserSessionRevokedData,
              "A login session was revoked (logout, or revoked by an administrator) / 会话注销",
              description="Services that cache tokens should reject tokens of this session (`sid`) until "
                          "`expires_at`, after which the session's tokens have expired anyway. Every platform "
                          "service (and the gateway) consumes it on a broadcast queue of its own and refuses "
                          "callers whose access token (EdDSA, verified with identity's public key) belongs to "
                          "this session.",
              example={"user_id": USER, "sid": "s7Kq2vXa9LmP4tRw", "revoked_at": "2025-03-15T09:40:00.240000Z",
                       "expires_at": "2025-03-29T09:12:31Z"}),
    EventType("user.status_changed", UserStatusChangedData,
              "An account was disabled or re-enabled by platform staff / 账号停用/启用",
              description="A disabled account can no longer sign in and its sessions were revoked (each also "
                          "announced as `user.session_revoked`). Services that act for an account should refuse "
                          "new work for it.",
              example={"user_id": USER, "old_status": "active", "new_status": "disabled", "changed_by": STAFF,
                       "changed_at": "2026-11-20T02:15:00.100000Z"}),
)
EVENTS += (clock_closed_of("identity"),)   # every service: services.common.sla_events
