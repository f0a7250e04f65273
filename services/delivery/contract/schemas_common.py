"""Fields shared by the delivery schemas."""
from __future__ import annotations

import datetime as dt
import json

from marshmallow import validate

from services.common import fields
from services.common.schemas import Schema

NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-_]{2,39}$"
NUMBER_PATH = r"[A-Za-z0-9][A-Za-z0-9\-_]{2,39}"   # a path segment: no slash
ID = {"validate": validate.Length(min=1, max=64)}


def text(max_len: int, required: bool = False, **kw):
    return fields.String(required=required, blank=not required, validate=validate.Length(max=max_len), **kw)


class UtcDateTime(fields.Field):
    """A naive-UTC datetime dumped as ISO 8601 with Z (times are stored UTC)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return value.replace(microsecond=0).isoformat() + "Z"


class JsonList(fields.Field):
    """A JSON-encoded list column dumped as the list."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else list(value)


class IsoDate(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.isoformat() if isinstance(value, dt.date) else str(value)


class ScopeFlagOut(Schema):
    code = fields.String()
    zh = fields.String()
    en = fields.String()


class Page(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))
