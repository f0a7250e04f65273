"""Window visit records with the demands collected on them (R-6.3.1.2)."""
from __future__ import annotations

from services.common import fields, validate
from services.common.schemas import Schema

from .schemas_base import ISO_DATE_PATTERN, Instant, IsoDay, iso_date, notes, text
from .schemas_demands import DemandFields


class VisitCreate(Schema):
    enterprise_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    enterprise_user_id = text(64, allow_none=True)
    visited_on = fields.String(required=True, validate=[validate.Regexp(ISO_DATE_PATTERN), iso_date],
                               metadata={"description": "YYYY-MM-DD"})
    notes = notes(4000)
    demands = fields.List(fields.Nested(DemandFields), validate=validate.Length(max=20))


class VisitListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class VisitOut(Schema):
    id = fields.String()
    window_id = fields.String()
    staff_user_id = fields.String()
    enterprise_user_id = fields.String(allow_none=True)
    enterprise_name = fields.String()
    visited_on = IsoDay(metadata={"description": "YYYY-MM-DD"})
    notes = fields.String()
    recorded_at = Instant(attribute="visited_at")
    demand_ids = fields.List(fields.String(), metadata={"description": "Demands collected on the visit"})


class VisitPageOut(Schema):
    items = fields.List(fields.Nested(VisitOut))
    total = fields.Integer()
