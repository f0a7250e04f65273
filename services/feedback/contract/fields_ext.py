"""Field helpers of the feedback contract."""
from __future__ import annotations

import datetime as dt
import json

from services.common import fields


class Instant(fields.DateTime):
    """A naive-UTC datetime dumped as ISO 8601 with Z (what every view of the platform shows)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"


class JsonList(fields.Field):
    """A JSON list stored as text (dump only)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else list(value)


def instant(**kw):
    kw.setdefault("metadata", {"description": "ISO 8601 UTC instant"})
    return Instant(allow_none=True, **kw)
