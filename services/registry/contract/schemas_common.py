"""Building blocks of the registry's schemas: strict input, ISO dates, USCC, attachments, pages.

Loaded values stay JSON-able (dates as ISO strings). Uploads travel inside the
JSON body as base64 (`AttachmentIn`), at most 10 MiB decoded each, PDF/JPEG/PNG
by magic bytes; a file the registry already holds may be named by `file_id`
(its SHA-256) instead.
"""
from __future__ import annotations

import datetime as dt
import json

from marshmallow import RAISE, ValidationError, validates_schema

from services.common import errors, fields, pii, validate
from services.common.vocabulary import CATEGORIES as CATEGORY_CODES
from services.common.schemas import Schema

from .vocabulary import MAX_BASE64_CHARS, MAX_FILE_BYTES


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class IsoDate(fields.Date):
    """A YYYY-MM-DD date, validated, kept as its ISO string (JSON-able over RPC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class IsoDateTime(fields.AwareDateTime):
    """An ISO 8601 instant that must carry its offset (API.md); kept as a UTC "...Z" string."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


class UsccField(fields.String):
    """Unified social credit code, GB 32100 (check character verified)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return pii.check_uscc(text, field="uscc")
        except errors.ValidationFailed as exc:
            raise ValidationError(exc.errors.get("uscc") or [exc.detail]) from None


class UtcInstant(fields.String):
    """A stored instant (naive UTC in the models) dumped as ISO 8601 ending in Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            value = moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return super()._serialize(value, attr, obj, **kwargs)


class JsonList(fields.List):
    """A list the models keep as JSON text, dumped as the list."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(json.loads(value) if isinstance(value, str) else value, attr, obj, **kwargs)


class JsonDict(fields.Dict):
    """An object the models keep as JSON text, dumped as the object."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(json.loads(value) if isinstance(value, str) else value, attr, obj, **kwargs)


def _text(max_len: int, required: bool = True, **kw):
    return fields.String(required=required, validate=validate.Length(min=1, max=max_len), **kw)


def _lines(max_len: int, required: bool = True, **kw):
    """Text of several lines (descriptions, conditions, scopes, addresses): tab and newline allowed."""
    return fields.MultilineString(required=required, validate=validate.Length(min=1, max=max_len), **kw)


class AttachmentIn(_Strict):
    filename = fields.String(validate=validate.Length(max=200), metadata={"description": "Original file name"})
    content_base64 = fields.String(metadata={
        "description": f"File bytes, base64; PDF, JPEG or PNG (checked by magic bytes), at most {MAX_FILE_BYTES} "
                       "bytes decoded / 文件内容 base64，仅限 PDF/JPEG/PNG，不超过 10 MiB"})
    file_id = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"),
                            metadata={"description": "SHA-256 of a file already stored (e.g. on resubmission)"})

    OPENAPI_EXTRA = {"anyOf": [{"required": ["content_base64"], "properties": {"content_base64": {"minLength": 1}}},
                               {"required": ["file_id"]}],
                     "description": "Give content_base64 (a new file) or file_id (a stored one)"}

    @validates_schema
    def _one_source(self, data, **kwargs):
        if not data.get("content_base64") and not data.get("file_id"):
            raise ValidationError("须提供 content_base64 或 file_id / content_base64 or file_id is required",
                                  "content_base64")
        if len(data.get("content_base64") or "") > MAX_BASE64_CHARS + 4:
            raise ValidationError(f"文件超过 10 MiB / file larger than {MAX_FILE_BYTES} bytes", "content_base64")


class AttachmentRef(Schema):
    file_id = fields.String()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()


class ListQuery(_Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100_000))
    category = fields.String(validate=validate.OneOf(CATEGORY_CODES))
    status = fields.String()
    kind = fields.String()


class PageOut(Schema):
    items = fields.List(fields.Dict())
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
