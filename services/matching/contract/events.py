"""Matching's events on `matching.events`, one payload schema per type and version.

They match docs/asyncapi.yaml (DemandPublishedData ...): the outbox validates every
payload against these before it is written (services.common.outbox.record_event).
`data` is open to consumers (they ignore unknown fields); a field added here is an
addition to the documented payload, never a change of one.
"""
from __future__ import annotations

from services.common import fields, validate
from services.common.evaluation import FinishedService
from services.common.money import Money
from services.common.operations import EventType
from services.common.sla_events import clock_closed_of
from services.common.schemas import Schema

from .vocabulary import CATEGORIES, CHANNELS, CLOSE_OUTCOMES

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"


def _id(description: str, **kw):
    return fields.String(required=True, validate=validate.Length(min=1), metadata={"description": description}, **kw)


def _user_id(**kw):
    return fields.String(required=True, validate=validate.Regexp(UUID_PATTERN),
                         metadata={"description": "Platform user id (UUID). Never an ID-card or phone number."}, **kw)


def _utc(**kw):
    return fields.String(required=True, validate=validate.Regexp(UTC_PATTERN),
                         metadata={"description": "ISO 8601 / RFC 3339 date-time in UTC, ending in `Z`."}, **kw)


def _demand_id():
    return _id("Demand id (UUID).")


class DemandPublished(Schema):
    demand_id = _demand_id()
    enterprise_user_id = _user_id()
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    item_code = fields.String(required=True, allow_none=True)
    region = fields.String(required=True, allow_none=True, metadata={"description": "District, e.g. 海陵区"})
    published_at = _utc()


class DemandResponded(Schema):
    demand_id = _demand_id()
    enterprise_user_id = _user_id()
    responded_at = _utc()


class DemandRecommended(Schema):
    demand_id = _demand_id()
    enterprise_user_id = _user_id()
    institution_ids = fields.List(fields.String(validate=validate.Length(min=1)), required=True,
                                  validate=validate.Length(min=1))
    recommended_at = _utc()


class DemandConnected(Schema):
    demand_id = _demand_id()
    enterprise_user_id = _user_id()
    institution_id = _id("Platform institution id (UUID).")
    engagement_id = _id("The engagement entry on the demand's timeline")
    connected_at = _utc()


class DemandReferred(Schema):
    demand_id = _demand_id()
    enterprise_user_id = _user_id()
    referral_id = _id("The referral entry on the demand's timeline")
    referred_at = _utc()


class DemandClosed(Schema):
    """The service for a demand ended. `evaluation` (added in issue 9, services.common.evaluation) is the
    finished-service block: feedback opens exactly one evaluation invitation per demand from it
    (service_type "demand", service_id the demand id, enterprise_id the demand's enterprise account,
    institution_id the connected institution or null, window_id null, handler_id the staff member who
    entered the demand for the enterprise, else null)."""

    demand_id = _demand_id()
    enterprise_user_id = _user_id()
    institution_id = fields.String(required=True, allow_none=True,
                                   metadata={"description": "Institution connected, null if none"})
    closed_at = _utc()
    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES), metadata={
        "description": "'withdrawn': the enterprise withdrew its own demand (its SLA clocks were cancelled); "
                       "'rejected' / 'duplicate': platform staff dismissed it with a reason. Consumers should "
                       "tolerate outcomes added later."})
    evaluation = fields.Nested(FinishedService, required=True, metadata={
        "description": "The finished-service block (services.common.evaluation.FinishedService): feedback opens "
                       "one evaluation per demand from it. Added in issue 9; consumers of older events find "
                       "no such field."})


class PackageCreated(Schema):
    package_id = _id("Package id")
    institution_id = _id("Platform institution id (UUID).")
    demand_ids = fields.List(fields.String(validate=validate.Length(min=1)), required=True,
                             validate=validate.Length(min=2))
    package_price_yuan = Money(required=True, integer_digits=11)


from .event_examples import EXAMPLES  # noqa: E402

EVENTS = (
    EventType("demand.published", DemandPublished,
              "A demand was published online or entered by staff (需求发布); starts the 1- and 3-working-day clocks.",
              example=EXAMPLES["demand.published"]),
    EventType("demand.responded", DemandResponded, "The platform responded to a demand (需求响应, R-6.3.2.1).",
              example=EXAMPLES["demand.responded"]),
    EventType("demand.recommended", DemandRecommended,
              "The platform recommended platform institutions for a demand (平台推荐).",
              example=EXAMPLES["demand.recommended"]),
    EventType("demand.connected", DemandConnected,
              "The enterprise connected with a platform institution; agreed items and cycle are on the demand "
              "(对接记录).",
              example=EXAMPLES["demand.connected"]),
    EventType("demand.referred", DemandReferred,
              "No platform institution could serve; the platform referred the demand to an outside institution "
              "(外部转介). The outside institution's details are on the demand, not in the event.",
              example=EXAMPLES["demand.referred"]),
    EventType("demand.closed", DemandClosed,
              "The service for a demand ended (服务结束); the feedback service opens one evaluation per service "
              "from it.", description=DemandClosed.__doc__,
              example=EXAMPLES["demand.closed"]),
    EventType("package.created", PackageCreated,
              "Same-kind demands of several enterprises were packaged for one institution window (批量打包, "
              "R-4.2.2.1).",
              example=EXAMPLES["package.created"]),
)
EVENTS += (clock_closed_of("matching"),)   # every service: services.common.sla_events
