"""Samples, manifests and the chain of custody (4.2.1.1): request and response schemas."""
from __future__ import annotations

from marshmallow import validate

from services.common import fields
from services.common.schemas import Schema

from .schemas_common import ID, Page, UtcDateTime, text
from .vocabulary import CONDITIONS, EXCEPTION_KINDS, HANDOVER_METHODS, SAMPLE_STATUSES


class SampleItemIn(Schema):
    description = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=300))
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=100000))
    unit = text(20)
    condition = fields.String(required=True, validate=validate.OneOf(CONDITIONS))
    photos = fields.List(fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=10),
                         metadata={"description": "References of uploaded photos"})


class SampleIn(Schema):
    enterprise_id = fields.String(required=True, validate=ID["validate"])
    institution_id = fields.String(required=True, validate=ID["validate"])
    station_id = fields.String(validate=ID["validate"], metadata={"description": "Staff only: the station"})
    demand_id = fields.String(allow_none=True, validate=ID["validate"])
    description = text(500)
    items = fields.List(fields.Nested(SampleItemIn), required=True, validate=validate.Length(min=1, max=50))
    place = text(200)
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class ManifestIn(Schema):
    sample_ids = fields.List(fields.String(validate=ID["validate"]), required=True,
                             validate=validate.Length(min=1, max=100))
    place = text(200)
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class CarrierIn(Schema):
    carrier = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=200))
    seal_number = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=64))
    place = text(200)


class Verdict(Schema):
    sample_id = fields.String(required=True, validate=ID["validate"])
    accepted = fields.Boolean(load_default=True)
    condition = fields.String(load_default="intact", validate=validate.OneOf(CONDITIONS))
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))
    missing_items = fields.List(fields.String(validate=validate.Length(min=1, max=300)),
                                validate=validate.Length(max=50))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class AcceptIn(Schema):
    seal_number = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=64),
                                metadata={"description": "The seal as received: a different one is a broken-seal "
                                                         "exception"})
    place = text(200)
    samples = fields.List(fields.Nested(Verdict), validate=validate.Length(max=100),
                          metadata={"description": "Per sample; a sample not listed is accepted intact"})


class LabStepIn(Schema):
    step = fields.String(required=True, validate=validate.OneOf(("testing", "report_issued")))
    report_number = fields.String(allow_none=True, validate=validate.Length(min=3, max=40))
    place = text(200)
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class DeliveryIn(Schema):
    received_by = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=50),
                                metadata={"description": "Who received the report (stored encrypted, shown masked)"})
    how = fields.String(required=True, validate=validate.OneOf(HANDOVER_METHODS))
    place = text(200)


class DispositionIn(Schema):
    OPENAPI_EXTRA = {"anyOf": [{"properties": {"kind": {"const": "returned"}}},
                               {"required": ["retention_rule"], "properties": {"retention_rule": {"type": "string"}}}],
                     "description": "A disposal names the institution's retention rule"}

    kind = fields.String(required=True, validate=validate.OneOf(("returned", "disposed")))
    retention_rule = fields.String(allow_none=True, validate=validate.Length(min=1, max=200),
                                   metadata={"description": "Disposal: the institution's retention rule"})
    place = text(200)
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class ExceptionIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(EXCEPTION_KINDS))
    reason = fields.String(required=True, blank=False, validate=validate.Length(min=2, max=1000))


class SampleQuery(Page):
    status = fields.String(validate=validate.OneOf(SAMPLE_STATUSES))


class SampleItemOut(Schema):
    description = fields.String()
    quantity = fields.Integer()
    unit = fields.String()
    condition = fields.String()


class StepOut(Schema):
    step = fields.String()
    at = UtcDateTime()
    place = fields.String()
    seal_number = fields.String(allow_none=True)
    condition = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    recorded_role = fields.String()


class ExceptionOut(Schema):
    id = fields.String()
    kind = fields.String()
    reason = fields.String()
    step = fields.String()
    raised_role = fields.String()
    at = UtcDateTime()


class SampleOut(Schema):
    id = fields.String()
    label_number = fields.String()
    enterprise_id = fields.String()
    station_id = fields.String()
    institution_id = fields.String()
    demand_id = fields.String(allow_none=True)
    description = fields.String()
    status = fields.String(metadata={"description": "Where the sample is: the last completed step"})
    status_zh = fields.String()
    location = fields.String()
    manifest_id = fields.String(allow_none=True)
    report_number = fields.String(allow_none=True)
    delivered_to_masked = fields.String(allow_none=True)
    delivered_how = fields.String(allow_none=True)
    retention_rule = fields.String(allow_none=True)
    open_exceptions = fields.Integer()
    next_steps = fields.List(fields.String())
    items = fields.List(fields.Nested(SampleItemOut))
    steps = fields.List(fields.Nested(StepOut))
    exceptions = fields.List(fields.Nested(ExceptionOut))
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class SamplePage(Schema):
    items = fields.List(fields.Nested(SampleOut))
    total = fields.Integer()


class ManifestOut(Schema):
    id = fields.String()
    number = fields.String()
    station_id = fields.String()
    institution_id = fields.String()
    status = fields.String()
    carrier = fields.String(allow_none=True)
    seal_number = fields.String(allow_none=True)
    created_at = UtcDateTime()
    samples = fields.List(fields.Nested(SampleOut))


class LabelOut(Schema):
    label_number = fields.String()
    svg = fields.String(metadata={"description": "The label number as a QR code (SVG)"})
