"""The metrology ledger (5.2.3): request and response schemas."""
from __future__ import annotations

from marshmallow import validate

from services.common import fields
from services.common.schemas import Schema

from .schemas_common import ID, IsoDate, UtcDateTime, text
from .vocabulary import ABC_CLASSES, CONTROLS, INSTRUMENT_STATUSES


class InstrumentFields(Schema):
    name = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=200))
    model = text(100)
    serial = fields.String(required=True, blank=False, validate=validate.Length(min=1, max=100))
    measuring_range = text(100)
    accuracy_class = text(50)
    location = text(200)
    custodian = fields.String(allow_none=True, validate=validate.Length(max=50),
                              metadata={"description": "Stored encrypted, shown masked"})
    abc_class = fields.String(required=True, validate=validate.OneOf(ABC_CLASSES))
    compulsory = fields.Boolean(load_default=False, metadata={"description": "强检: compulsory verification"})
    control = fields.String(required=True, validate=validate.OneOf(CONTROLS),
                            metadata={"description": "verification (检定) or calibration (校准)"})
    interval_months = fields.Integer(required=True, validate=validate.Range(min=1, max=120))
    cert_number = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    cert_institution = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    cert_date = fields.Date(allow_none=True, metadata={"description": "Date of the last certificate; the next "
                                                                      "due date is derived from it"})


class InstrumentIn(InstrumentFields):
    enterprise_id = fields.String(validate=ID["validate"], metadata={"description": "Staff only"})


class InstrumentPatch(Schema):
    """Any of the fields; the next due date is never among them (it is derived)."""

    name = fields.String(blank=False, validate=validate.Length(min=1, max=200))
    model = text(100)
    serial = fields.String(blank=False, validate=validate.Length(min=1, max=100))
    measuring_range = text(100)
    accuracy_class = text(50)
    location = text(200)
    custodian = fields.String(allow_none=True, validate=validate.Length(max=50))
    abc_class = fields.String(validate=validate.OneOf(ABC_CLASSES))
    compulsory = fields.Boolean()
    control = fields.String(validate=validate.OneOf(CONTROLS))
    interval_months = fields.Integer(validate=validate.Range(min=1, max=120))
    cert_number = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    cert_institution = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    cert_date = fields.Date(allow_none=True)


class InstrumentQuery(Schema):
    enterprise_id = fields.String(validate=ID["validate"])
    due_within = fields.Integer(validate=validate.Range(min=0, max=400),
                                metadata={"description": "Due within this many working days (or overdue)"})
    status = fields.String(validate=validate.OneOf(INSTRUMENT_STATUSES))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))


class InstrumentOut(Schema):
    id = fields.String()
    enterprise_id = fields.String()
    name = fields.String()
    model = fields.String()
    serial = fields.String()
    measuring_range = fields.String()
    accuracy_class = fields.String()
    location = fields.String()
    custodian_masked = fields.String(allow_none=True)
    abc_class = fields.String()
    compulsory = fields.Boolean()
    control = fields.String()
    interval_months = fields.Integer()
    cert_number = fields.String(allow_none=True)
    cert_institution = fields.String(allow_none=True)
    cert_date = IsoDate(allow_none=True)
    next_due = IsoDate(allow_none=True, metadata={"description": "Derived: cert_date + interval_months"})
    status = fields.String(metadata={"description": "active, or suspended (停用) when overdue"})
    due_state = fields.String(metadata={"description": "on_track, due_soon (30 working days), overdue, "
                                                       "no_certificate"})
    working_days_left = fields.Integer(allow_none=True)
    calendar_estimate = fields.Boolean(metadata={"description": "Working days estimated as weekdays: the "
                                                                "calendar lacks a year"})
    demand_id = fields.String(allow_none=True)
    updated_at = UtcDateTime()


class InstrumentPage(Schema):
    items = fields.List(fields.Nested(InstrumentOut))
    total = fields.Integer()


class CalibrationIn(Schema):
    instrument_ids = fields.List(fields.String(validate=ID["validate"]), validate=validate.Length(max=500),
                                 metadata={"description": "Default: every instrument due within 30 working days "
                                                          "or overdue"})
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class BundleOut(Schema):
    demand_id = fields.String()
    instrument_type = fields.String()
    instrument_ids = fields.List(fields.String())


class CalibrationOut(Schema):
    demands = fields.List(fields.Nested(BundleOut))


class ImportIn(Schema):
    content_base64 = fields.String(required=True, validate=validate.Length(min=4, max=14_000_000))
    enterprise_id = fields.String(validate=ID["validate"], metadata={"description": "Staff only"})


class ImportOut(Schema):
    created = fields.Integer()
    updated = fields.Integer()


class ExportQuery(Schema):
    enterprise_id = fields.String(validate=ID["validate"])


class FileOut(Schema):
    filename = fields.String()
    media_type = fields.String()
    content_base64 = fields.String()
    count = fields.Integer()


class NotificationOut(Schema):
    id = fields.String()
    kind = fields.String()
    subject_id = fields.String()
    text_zh = fields.String()
    text_en = fields.String()
    created_at = UtcDateTime()
