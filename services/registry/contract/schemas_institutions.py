"""Institutions, their qualifications and capabilities, deregistration and history (R-6.1)."""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from services.common import fields, validate
from services.common.money import Money
from services.common.schemas import Schema
from services.common.vocabulary import CATEGORIES as CATEGORY_CODES
from services.common.vocabulary import INSTITUTION_KINDS as KINDS
from services.common.vocabulary import QUALIFICATION_TYPES

from .schemas_common import AttachmentIn, IsoDate, JsonDict, UsccField, UtcInstant, _Strict, _lines, _text


class InstitutionIn(_Strict):
    name = _text(200)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    uscc = UsccField(required=True)
    region = _text(50, metadata={"description": "District, e.g. 海陵区"})
    park = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    address = _lines(300)
    legal_representative = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                                         metadata={"description": "Stored encrypted; never published or in events"})


class QualificationIn(_Strict):
    ref = fields.String(validate=validate.Length(max=50),
                        metadata={"description": "Local label the capabilities use to point at this certificate"})
    type = fields.String(required=True, validate=validate.OneOf(QUALIFICATION_TYPES))
    number = _text(100)
    issuer = _text(200)
    valid_from = IsoDate(required=True)
    valid_to = IsoDate(required=True)
    scope = _lines(2000)
    certificate = fields.Nested(AttachmentIn, required=True, metadata={"description": "c) 资质证书 scan"})

    @validates_schema
    def _dates(self, data, **kwargs):
        if data.get("valid_from") and data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError("有效期止早于起 / valid_to is before valid_from", "valid_to")


class CapabilityIn(_Strict):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES))
    item_code = _text(64)
    product = _text(200)
    parameter = _text(200)
    method_standard = _text(100, metadata={"description": "e.g. GB/T 2828.1-2012"})
    price_yuan = Money(integer_digits=8, required=True)  # below 100 million yuan
    cycle_working_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))
    qualification_ref = fields.String(validate=validate.Length(max=50))
    qualification_id = fields.String(validate=validate.Length(max=36))


class QualificationCreate(QualificationIn):
    pass


class CapabilityCreate(CapabilityIn):
    pass


class DeregistrationIn(_Strict):
    reason = _lines(1000)
    closed_on = IsoDate(load_default=None, allow_none=True,
                        metadata={"description": "Self-deregistration: the day the institution closed"})
    qualification_id = fields.String(load_default=None, allow_none=True,
                                     metadata={"description": "Forced: the revoked qualification"})


class QualificationOut(Schema):
    qualification_id = fields.String()
    type = fields.String()
    number = fields.String()
    issuer = fields.String()
    valid_from = fields.String()
    valid_to = fields.String()
    scope = fields.String()
    status = fields.String()


class CapabilityOut(Schema):
    capability_id = fields.String()
    category = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    product = fields.String()
    parameter = fields.String()
    method_standard = fields.String()
    price_yuan = Money(integer_digits=8)
    cycle_working_days = fields.Integer()
    qualification_id = fields.String(allow_none=True)


class InstitutionOut(Schema):
    institution_id = fields.String()
    name = fields.String()
    kind = fields.String()
    uscc = fields.String()
    region = fields.String()
    park = fields.String(allow_none=True)
    address = fields.String()
    categories = fields.List(fields.String())
    qualifications = fields.List(fields.Nested(QualificationOut))
    capabilities = fields.List(fields.Nested(CapabilityOut))
    status = fields.String()
    revision = fields.Integer()
    legal_representative = fields.String(allow_none=True, metadata={"description": "Staff views only, masked"})
    deregistered_at = fields.String(allow_none=True)
    deregistration_reason = fields.String(allow_none=True)
    deregistration_forced = fields.Boolean(allow_none=True)
    deregistration_late = fields.Boolean(allow_none=True)
    windows = fields.List(fields.Dict())


class InstitutionEventOut(Schema):
    at = UtcInstant()
    actor_id = fields.String(metadata={"description": "User id, or \"system\" for the sweep"})
    action = fields.String(metadata={"description": "e.g. approved, change_submitted, capability_published, "
                                                    "qualification_expired, deregistered"})
    detail = JsonDict(allow_none=True, metadata={"description": "Depends on the action (ids, fields, reasons)"})
