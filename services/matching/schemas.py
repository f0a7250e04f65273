"""Request schemas of the matching API, used by the gateway (validation + OpenAPI)
and again by the service (its RPC queue is reachable by more than the gateway).

Dates travel as ISO strings: the gateway passes loaded bodies over RPC, and a
string survives any JSON serializer unchanged.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import Schema, ValidationError, fields, validate

from services.common import errors

from .models import CHANNELS, DEMAND_STATUSES
from .text import CATEGORIES, standard_key

QUALIFICATION_TYPES = ("CMA", "CNAS", "LEGAL_METROLOGY", "CERT_BODY", "OTHER")
# Upper bounds on every number a client sends. Without them a value such as 1e307
# passes validation and overflows later (round(price * 100) in packages, an
# integer column on PostgreSQL), which surfaces as a 500 instead of a 422.
MAX_YUAN = 1e10            # ten billion yuan: far above any testing/certification fee
MAX_CYCLE_DAYS = 3650      # ten years of working days, for filters over capabilities
MAX_DEMAND_CYCLE_DAYS = 365
_yuan = lambda **kw: fields.Float(validate=validate.Range(min=0, max=MAX_YUAN), **kw)  # noqa: E731
_text = lambda n, **kw: fields.String(validate=validate.Length(max=n), **kw)  # noqa: E731


def _iso_date(value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError("YYYY-MM-DD") from None


def _iso_datetime(value: str) -> None:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise ValidationError("ISO 8601 date-time") from None


def _standard(value: str) -> None:
    if not standard_key(value):
        raise ValidationError("not a standard number, e.g. GB/T 2828.1-2012")


class SearchQuery(Schema):
    q = _text(200)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    item = _text(64)
    region = _text(50)
    park = _text(100)
    qualification = fields.String(validate=validate.OneOf(QUALIFICATION_TYPES))
    standard = fields.String(validate=[validate.Length(max=80), _standard])
    price_max = _yuan()
    cycle_max = fields.Integer(validate=validate.Range(min=0, max=MAX_CYCLE_DAYS))
    rating_min = fields.Float(validate=validate.Range(min=0, max=5))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = _text(300)


class LookupQuery(Schema):
    q = _text(200)
    region = _text(50)
    standard = fields.String(validate=[validate.Length(max=80), _standard])
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = _text(300)


class StandardQuery(Schema):
    number = fields.String(required=True, validate=[validate.Length(min=2, max=80), _standard])


class StandardPut(Schema):
    title = _text(300, required=True)
    status = fields.String(required=True, validate=validate.OneOf(("current", "replaced", "withdrawn")))
    replaced_by = fields.String(allow_none=True, validate=[validate.Length(max=80), _standard])
    replaces = fields.List(fields.String(validate=_standard), validate=validate.Length(max=10))


class DemandFields(Schema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    description = _text(4000)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    item_code = _text(64, allow_none=True)
    product = _text(200, allow_none=True)
    standard = fields.String(allow_none=True, validate=[validate.Length(max=80), _standard])
    parameter = _text(200, allow_none=True)
    region = _text(50, allow_none=True)
    industry = _text(100, allow_none=True)
    budget_yuan = _yuan(allow_none=True)
    desired_cycle_working_days = fields.Integer(allow_none=True,
                                                validate=validate.Range(min=1, max=MAX_DEMAND_CYCLE_DAYS))


class DemandCreate(DemandFields):
    channel = fields.String(load_default="online", validate=validate.OneOf(CHANNELS))
    enterprise_user_id = _text(64)


class DemandListQuery(Schema):
    status = fields.String(validate=validate.OneOf(DEMAND_STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = _text(200)


class ResponseCreate(Schema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ProposalQuery(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class RecommendedInstitution(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = _text(1000)


class RecommendationCreate(Schema):
    institutions = fields.List(fields.Nested(RecommendedInstitution), required=True,
                               validate=validate.Length(min=1, max=20))
    note = _text(2000)


class EngagementCreate(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    agreed_items = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                               validate=validate.Length(min=1, max=50))
    agreed_cycle_working_days = fields.Integer(allow_none=True,
                                               validate=validate.Range(min=1, max=MAX_DEMAND_CYCLE_DAYS))
    first_contact_at = fields.String(allow_none=True, validate=_iso_datetime)
    first_contact_notes = _text(2000)


class FollowUpCreate(Schema):
    kind = fields.String(load_default="note", validate=validate.OneOf(("problem", "coordination", "progress", "note")))
    note = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ReferralCreate(Schema):
    external_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    external_contact = _text(200)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    note = _text(2000)


# Who may close with which outcome, and what it does to the SLA clocks, is decided
# in demands.close: "withdrawn" is the enterprise's own; "rejected" and "duplicate"
# are staff's, need a reason in `note`, and are the only ways for staff to close a
# demand the platform has not answered yet.
CLOSE_OUTCOMES = ("completed", "cancelled", "unresolved", "withdrawn", "rejected", "duplicate")


class CloseDemand(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    note = _text(2000)


class SlaQuery(Schema):
    state = fields.String(required=True, validate=validate.OneOf(("due_soon", "overdue")))


class VisitCreate(Schema):
    enterprise_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    enterprise_user_id = _text(64, allow_none=True)
    visited_on = fields.String(required=True, validate=_iso_date)
    notes = _text(4000)
    demands = fields.List(fields.Nested(DemandFields), validate=validate.Length(max=20))


class VisitListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PackageCreate(Schema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    industry = _text(100, allow_none=True)
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    window_id = _text(64, allow_none=True)
    package_price_yuan = _yuan(required=True)
    demand_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                             validate=validate.Length(min=2, max=200))


def load(schema_cls: type[Schema], payload) -> dict:
    if not isinstance(payload, dict):
        raise errors.ValidationFailed("Body must be a JSON object / 请求体必须是 JSON 对象",
                                      errors={"_schema": ["must be an object"]})
    try:
        return schema_cls().load(payload)
    except ValidationError as exc:
        raise errors.ValidationFailed("Some fields are invalid / 部分字段无效",
                                      errors=exc.normalized_messages()) from None
