"""Fields of the identity schemas: identity numbers checked by their check characters, and timestamps.

Identity numbers are checked here, per field, with the check-character
algorithms of GB 32100 (USCC) and GB 11643 (resident ID); see services.common.pii.
"""
from __future__ import annotations

import base64
import datetime as dt
import re

from marshmallow import RAISE, ValidationError

from services.common import errors, fields, pii, validate
from services.common.events import iso_utc
from services.common.schemas import Schema

PASSWORD_MIN = 10
# Argon2 cost does not grow with length, but an unbounded body is still a cheap DoS.
PASSWORD_MAX = 128

_USERNAME = re.compile(r"[a-z][a-z0-9_.\-]{2,63}")


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


class Timestamp(fields.String):
    """An instant: stored naive UTC, dumped as ISO 8601 UTC ending in Z (a string passes as it is)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.datetime):
            return iso_utc(value)
        return super()._serialize(value, attr, obj, **kwargs)


class Base64Bytes(fields.String):
    """Bytes dumped as base64 text."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        return super()._serialize(value, attr, obj, **kwargs)


def username(description="Login name: 3-64 letters, digits or _.- starting with a letter; case-insensitive"):
    return Username(required=True, metadata={"description": description, "example": "ent-demo",
                                             "pattern": "^[A-Za-z][A-Za-z0-9_.-]{2,63}$"})


def password():
    return fields.String(required=True, load_only=True,
                         blank=False, validate=validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX),
                         metadata={"description": f"Password, {PASSWORD_MIN}-{PASSWORD_MAX} characters",
                                   "format": "password"})


def nickname(required=True):
    return fields.String(required=required, blank=False, validate=validate.Length(min=1, max=64),
                         metadata={"description": "Public display name (前台自愿): shown instead of the real identity"})


def mobile(required=True):
    return Mobile(required=required, metadata={
        "description": "Mainland China mobile number, 11 digits (+86 allowed); verified later by one-time code; "
                       "stored encrypted, shown masked"})


def timestamp(description):
    return Timestamp(allow_none=True, metadata={"format": "date-time", "description": description})


class Strict(Schema):
    class Meta:
        unknown = RAISE
