"""Catalogue items and service guides (R-4.1.1): requests and responses."""
from __future__ import annotations

from services.common import fields, validate
from services.common.schemas import Schema
from services.common.vocabulary import CATEGORIES as CATEGORY_CODES

from .schemas_common import JsonList, UtcInstant, _Strict, _lines, _text


class GuideIn(_Strict):
    title = _text(200)
    acceptance_conditions = _lines(5000)
    materials = fields.List(fields.MultilineString(validate=validate.Length(min=1, max=500)), required=True,
                            validate=validate.Length(min=1))
    process_steps = fields.List(fields.MultilineString(validate=validate.Length(min=1, max=500)), required=True,
                                validate=validate.Length(min=1))
    time_limit_working_days = fields.Integer(load_default=None, allow_none=True,
                                             validate=validate.Range(min=0, max=3650))
    time_limit_note = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=500))
    fees = _lines(1000)
    channels = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                           validate=validate.Length(min=1))
    change_note = fields.MultilineString(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CatalogItemIn(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_.]{1,63}$"))
    category_code = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES))
    name_zh = _text(200)
    name_en = _text(300)
    clause = fields.String(load_default=None, allow_none=True)
    public = fields.Boolean(load_default=True)


class CatalogItemUpdate(_Strict):
    name_zh = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(min=1, max=300))
    public = fields.Boolean()


class ItemOut(Schema):
    code = fields.String()
    category_code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    clause = fields.String(allow_none=True)
    public = fields.Boolean()
    guide_version = fields.Integer(allow_none=True)


class CategoryOut(Schema):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    clause = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ItemOut))


class GuideOut(Schema):
    item_code = fields.String()
    item_name_zh = fields.String(attribute="item.name_zh")
    item_name_en = fields.String(attribute="item.name_en")
    version = fields.Integer()
    current = fields.Boolean()
    title = fields.String()
    acceptance_conditions = fields.String()
    materials = JsonList(fields.String())
    process_steps = JsonList(fields.String())
    time_limit_working_days = fields.Integer(allow_none=True)
    time_limit_note = fields.String(allow_none=True)
    fees = fields.String()
    channels = JsonList(fields.String())
    change_note = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = UtcInstant()
