"""Quarterly statistics schemas."""
from __future__ import annotations

from marshmallow import validate

from services.common import fields
from services.common.schemas import JsonNumber, Schema


class QuarterQuery(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    quarter = fields.Integer(required=True, validate=validate.Range(min=1, max=4))


class ExportQuery(QuarterQuery):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class PublishIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    quarter = fields.Integer(required=True, validate=validate.Range(min=1, max=4))


class OnTimeOut(Schema):
    rule = fields.String()
    met = fields.Integer()
    breached = fields.Integer()
    on_time_rate = fields.Float(allow_none=True)


class InstrumentHoursOut(Schema):
    bookings = fields.Integer(metadata={"description": "Completed bookings whose slot started in the quarter"})
    instruments = fields.Integer()
    booked_hours = fields.Float()
    used_hours = fields.Float()
    use_rate = fields.Float(allow_none=True, metadata={"description": "used ÷ booked"})


class FiguresOut(Schema):
    services_finished = fields.Integer()
    evaluations = fields.Integer(metadata={"description": "Valid ratings (without overturned ones)"})
    not_evaluated = fields.Integer(metadata={"description": "Invitations that expired unanswered"})
    pending = fields.Integer()
    overturned = fields.Integer()
    staff_entered = fields.Integer()
    participation_rate = fields.Float(allow_none=True)
    satisfaction_rate = fields.Float(allow_none=True)
    dissatisfied = fields.Integer()
    by_rating = fields.Dict(keys=fields.String(), values=fields.Integer())
    dimension_scores = fields.Dict(keys=fields.String(), values=JsonNumber(allow_none=True))
    on_time = fields.List(fields.Nested(OnTimeOut))
    on_time_rate = fields.Float(allow_none=True)


class InstitutionFiguresOut(FiguresOut):
    institution_id = fields.String()
    instrument_hours = fields.Nested(InstrumentHoursOut)
    institution_name = fields.String(allow_none=True, metadata={"description": "From the registry's events"})


class PlatformFiguresOut(FiguresOut):
    instrument_hours = fields.Nested(InstrumentHoursOut)


class WindowFiguresOut(FiguresOut):
    window_id = fields.String()


class DissatisfiedItemOut(Schema):
    evaluation_id = fields.String()
    institution_id = fields.String(allow_none=True)
    window_id = fields.String(allow_none=True)
    overall = fields.String()
    overturned = fields.Boolean()
    overturn_reason = fields.String(allow_none=True)
    rectification_id = fields.String(allow_none=True)
    rectification_state = fields.String(allow_none=True)
    has_cause_analysis = fields.Boolean()
    cause_analysis = fields.String(allow_none=True)


class ComplaintFiguresOut(Schema):
    total = fields.Integer()
    by_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer())


class RectificationFiguresOut(Schema):
    opened = fields.Integer()
    open = fields.Integer()
    closed = fields.Integer()
    rechecked = fields.Integer()
    overturned = fields.Integer()


class QuarterlyOut(Schema):
    year = fields.Integer()
    quarter = fields.Integer()
    period = fields.String(metadata={"description": "e.g. 2026-Q3"})
    starts_at = fields.String()
    ends_at = fields.String()
    formula = fields.Dict(keys=fields.String(), values=fields.String(),
                          metadata={"description": "How each rate is computed (zh and en)"})
    platform = fields.Nested(PlatformFiguresOut)
    institutions = fields.List(fields.Nested(InstitutionFiguresOut))
    windows = fields.List(fields.Nested(WindowFiguresOut))
    dissatisfied_items = fields.List(fields.Nested(DissatisfiedItemOut))
    missing_cause_analysis = fields.Integer(metadata={"description": "Publishing is refused while this is > 0"})
    complaints = fields.Nested(ComplaintFiguresOut)
    rectifications = fields.Nested(RectificationFiguresOut)
    published = fields.Boolean()
    published_at = fields.String(allow_none=True)


class PublishedQuarterOut(Schema):
    year = fields.Integer()
    quarter = fields.Integer()
    period = fields.String()
    published_at = fields.String()


# The media types of the export (Operation.files): the gateway answers the file itself.
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
