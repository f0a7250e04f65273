"""Service windows (R-4.1.2, R-4.2): requests and responses."""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.schemas import Schema
from services.common.vocabulary import WINDOW_KINDS

from .schemas_common import _Strict, _lines, _text
from .schemas_institutions import CapabilityOut


def _case_info(value) -> None:
    """What the document states for case_info: a flat object of text, lists of text, numbers, booleans."""
    if len(value) > 50:
        raise ValidationError("最多 50 项 / at most 50 entries")
    for key, item in value.items():
        if isinstance(item, str):
            fields.check_text(item, multiline=True)
            ok = len(item) <= 2000
        elif isinstance(item, list):
            ok = len(item) <= 50 and all(isinstance(x, str) and len(x) <= 500 for x in item)
            for x in item if ok else ():
                fields.check_text(x)
        else:
            ok = item is None or isinstance(item, (bool, int, float))
        if not ok:
            raise ValidationError(f"{key}: 须为文本、文本列表、数字或布尔值 / must be text, a list of text, a number "
                                  "or a boolean")


class WindowIn(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(WINDOW_KINDS))
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9\-]{3,32}$"))
    name = _text(200)
    region = _text(50)
    address = _lines(300)
    contact = _text(100, metadata={"description": "Desk phone of the window"})
    opening_hours = _text(200)
    public = fields.Boolean(load_default=True)
    institution_id = fields.String(load_default=None, allow_none=True)
    services = fields.List(fields.String(), load_default=list, metadata={"description": "catalogue item codes"})
    case_info = fields.Dict(load_default=None, allow_none=True, keys=fields.String(validate=validate.Length(min=1, max=100)),
                            validate=_case_info, multiline=True,
                            metadata={"description": "Enterprise windows: the point-to-point case and its team, "
                                                     "e.g. {\"topic\": \"…\", \"team\": [\"…\"]}",
                                      "maxProperties": 50,
                                      "additionalProperties": {"anyOf": [
                                          {"type": "string", "maxLength": 2000, "pattern": fields.PATTERN_MULTI},
                                          {"type": "array", "maxItems": 50,
                                           "items": {"type": "string", "maxLength": 500,
                                                     "pattern": fields.PATTERN_SINGLE}},
                                          {"type": ["number", "boolean", "null"]}]}})

    # apispec renders no propertyNames; the keys' rule, stated here.
    OPENAPI_EXTRA = {"properties": {"case_info": {"propertyNames": {"minLength": 1, "maxLength": 100,
                                                                    "pattern": fields.PATTERN_SINGLE}}}}


class WindowServicesIn(_Strict):
    services = fields.List(fields.String(), required=True)


class WindowUpdate(_Strict):
    """Identity fields of a window (R-4.2.1.4); give only the ones that change."""

    code = fields.String(validate=validate.Regexp(r"^[A-Z0-9\-]{3,32}$"))
    name = fields.String(validate=validate.Length(min=1, max=200))
    region = fields.String(validate=validate.Length(min=1, max=50))
    address = fields.MultilineString(validate=validate.Length(min=1, max=300))
    contact = fields.String(validate=validate.Length(min=1, max=100),
                            metadata={"description": "Desk phone of the window"})
    opening_hours = fields.String(validate=validate.Length(min=1, max=200))
    public = fields.Boolean(metadata={"description": "Listed publicly (false: staff only)"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("至少修改一项 / give at least one field to change", "_schema")

    OPENAPI_EXTRA = {"minProperties": 1}


class WindowOut(Schema):
    window_id = fields.String()
    kind = fields.String(metadata={"description": ", ".join(WINDOW_KINDS)})
    code = fields.String()
    name = fields.String()
    region = fields.String()
    address = fields.String()
    contact = fields.String(metadata={"description": "Desk phone of the window"})
    opening_hours = fields.String()
    public = fields.Boolean()
    institution_id = fields.String(allow_none=True)
    services = fields.List(fields.String(), metadata={"description": "Catalogue item codes"})
    published_items = fields.List(fields.Nested(CapabilityOut),
                                  metadata={"description": "Institution windows of an active institution: what it "
                                                           "offers, with price and cycle"})
    case_info = fields.Dict(allow_none=True, metadata={"description": "Enterprise windows, operators only: the "
                                                                      "free-form case summary given on creation"})
