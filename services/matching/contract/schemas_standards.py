"""Standard validity lookup (5.1.1) and its maintenance by operators."""
from __future__ import annotations

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_base import STANDARD, Instant, text
from .vocabulary import STANDARD_STATUSES


class StandardQuery(Schema):
    number = fields.String(required=True, validate=STANDARD)


class StandardPut(Schema):
    title = text(300, required=True)
    status = fields.String(required=True, validate=validate.OneOf(STANDARD_STATUSES))
    replaced_by = fields.String(allow_none=True, validate=STANDARD)
    replaces = fields.List(fields.String(validate=STANDARD), validate=validate.Length(max=10))


class _Editions(fields.List):
    """Editions a standard replaces: stored as 'GB 1-2000;GB 2-2001', shown as a list."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or isinstance(value, str):
            value = value.split(";") if value else []
        return super()._serialize(value, attr, obj, **kwargs)


class StandardOut(Schema):
    number = fields.String(metadata={"description": "e.g. GB/T 19001-2016"})
    key = fields.String(metadata={"description": "The number without edition year or spacing, e.g. GBT19001"})
    title = fields.String()
    status = fields.String(metadata={"description": "current, replaced or withdrawn"})
    replaced_by = fields.String(allow_none=True)
    replaces = _Editions(fields.String())
    updated_at = Instant(allow_none=True)


class StandardLookupOut(Schema):
    query = fields.String(metadata={"description": "The number as asked"})
    key = fields.String()
    status = fields.String(metadata={"description": "Status of the asked edition (or of the current one when no "
                                                    "year was given)"})
    verdict = fields.String(metadata={"description": "The status in words, zh / en"})
    standard = fields.Nested(StandardOut, metadata={"description": "The edition the verdict is about"})
    current_edition = fields.Nested(StandardOut, allow_none=True)
    editions = fields.List(fields.Nested(StandardOut), metadata={"description": "Every edition known, newest first"})
