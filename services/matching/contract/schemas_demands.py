"""Demands (R-6.3): publication, the platform's actions on them, closing, the SLA list, proposals."""
from __future__ import annotations

from services.common import fields, validate
from services.common.fields import PATTERN_MULTI_NOT_BLANK
from services.common.schemas import Schema, SlaClockOut

from .schemas_base import (EXPLAIN, ISO_DATETIME_PATTERN, MAX_DEMAND_CYCLE_DAYS, STANDARD, Instant, iso_datetime,
                           notes, text, yuan)
from .schemas_search import MatchCapabilityOut
from .vocabulary import CATEGORIES, CHANNELS, CLOSE_OUTCOMES, DEMAND_STATUSES, FOLLOW_UP_KINDS, SLA_STATES


class DemandFields(Schema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    description = notes(4000)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    item_code = text(64, allow_none=True)
    product = text(200, allow_none=True)
    standard = fields.String(allow_none=True, validate=STANDARD)
    parameter = text(200, allow_none=True)
    region = text(50, allow_none=True)
    industry = text(100, allow_none=True)
    budget_yuan = yuan(allow_none=True)
    desired_cycle_working_days = fields.Integer(allow_none=True,
                                                validate=validate.Range(min=1, max=MAX_DEMAND_CYCLE_DAYS))


class DemandCreate(DemandFields):
    channel = fields.String(load_default="online", validate=validate.OneOf(CHANNELS))
    enterprise_user_id = text(64)


class DemandListQuery(Schema):
    status = fields.String(validate=validate.OneOf(DEMAND_STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = text(200)


class ResponseCreate(Schema):
    message = fields.MultilineString(required=True, validate=validate.Length(min=1, max=4000))


class ProposalQuery(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class RecommendedInstitution(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = notes(1000)


class RecommendationCreate(Schema):
    institutions = fields.List(fields.Nested(RecommendedInstitution), required=True,
                               validate=validate.Length(min=1, max=20))
    note = notes(2000)


class EngagementCreate(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    agreed_items = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                               validate=validate.Length(min=1, max=50))
    agreed_cycle_working_days = fields.Integer(allow_none=True,
                                               validate=validate.Range(min=1, max=MAX_DEMAND_CYCLE_DAYS))
    first_contact_at = fields.String(allow_none=True, validate=[validate.Regexp(ISO_DATETIME_PATTERN), iso_datetime],
                                     metadata={"description": "ISO 8601 with offset, e.g. 2026-03-02T09:30:00+08:00"})
    first_contact_notes = notes(2000)


class FollowUpCreate(Schema):
    kind = fields.String(load_default="note", validate=validate.OneOf(FOLLOW_UP_KINDS))
    note = fields.MultilineString(required=True, validate=validate.Length(min=1, max=4000))


class ReferralCreate(Schema):
    external_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    external_contact = text(200)
    reason = fields.MultilineString(required=True, validate=validate.Length(min=1, max=2000))
    note = notes(2000)


class CloseDemand(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    note = notes(2000)

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"outcome": {"enum": ["completed", "cancelled", "unresolved",
                                                                    "withdrawn"]}}},
                               {"required": ["note"], "properties": {"note": {"pattern": PATTERN_MULTI_NOT_BLANK}}}],
                     "description": "rejected and duplicate need the reason in note"}


class SlaQuery(Schema):
    state = fields.String(validate=validate.OneOf(SLA_STATES),
                          metadata={"description": "Leave out to list every running demand clock; calendar_gap: "
                                                   "no due date until the year's holiday notice is loaded"})


# -- responses ----------------------------------------------------------------------------
class RecommendedOut(Schema):
    institution_id = fields.String()
    name = fields.String()
    reason = fields.String()


class DemandEntryOut(Schema):
    """One timeline entry; which of the optional fields it has depends on `kind`."""

    id = fields.String()
    kind = fields.String(metadata={"description": "response, recommendation, referral, engagement, follow_up or "
                                                  "closing"})
    actor_user_id = fields.String()
    actor_role = fields.String()
    at = Instant()
    message = fields.String(metadata={"description": "response"})
    institutions = fields.List(fields.Nested(RecommendedOut), metadata={"description": "recommendation"})
    note = fields.String(metadata={"description": "recommendation, referral, follow_up, closing"})
    external_name = fields.String(metadata={"description": "referral"})
    external_contact = fields.String(metadata={"description": "referral"})
    reason = fields.String(metadata={"description": "referral"})
    institution_id = fields.String(metadata={"description": "engagement"})
    institution_name = fields.String(metadata={"description": "engagement"})
    agreed_items = fields.List(fields.String(), metadata={"description": "engagement"})
    agreed_cycle_working_days = fields.Integer(allow_none=True, metadata={"description": "engagement"})
    first_contact_at = fields.String(allow_none=True, metadata={"description": "engagement"})
    first_contact_notes = fields.String(metadata={"description": "engagement"})
    topic = fields.String(metadata={"description": "follow_up: problem, coordination, progress or note"})
    outcome = fields.String(metadata={"description": "closing: " + ", ".join(CLOSE_OUTCOMES)})


class DemandPackageOut(Schema):
    package_id = fields.String()
    title = fields.String()
    institution_id = fields.String()
    share_yuan = yuan(allow_none=True, metadata={"description": "This demand's share of the package price"})


class DemandOut(Schema):
    id = fields.String()
    enterprise_user_id = fields.String()
    channel = fields.String(metadata={"description": ", ".join(CHANNELS)})
    entered_by = fields.String(metadata={"description": "User id of whoever filed it (the enterprise or staff)"})
    visit_id = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    category = fields.String()
    item_code = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    standard = fields.String(allow_none=True)
    parameter = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    budget_yuan = yuan(allow_none=True)
    desired_cycle_working_days = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": ", ".join(DEMAND_STATUSES)})
    institution_id = fields.String(allow_none=True, metadata={"description": "Institution it is connected to"})
    package_id = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={"description": "Set when closed"})
    created_at = Instant()
    closed_at = Instant(allow_none=True)
    timeline = fields.List(fields.Nested(DemandEntryOut), metadata={"description": "One demand only, not in lists"})
    sla = fields.List(fields.Nested(SlaClockOut), metadata={
        "description": "One demand only: the response (1 working day) and recommendation (3) clocks"})
    package = fields.Nested(DemandPackageOut, metadata={"description": "One packaged demand only"})


class DemandPageOut(Schema):
    items = fields.List(fields.Nested(DemandOut))
    total = fields.Integer()
    next_cursor = fields.String(allow_none=True)


class ProposalOut(Schema):
    institution_id = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.String(allow_none=True)
    score = fields.Float()
    explain = fields.List(fields.Dict(), metadata={"description": EXPLAIN})
    capabilities = fields.List(fields.Nested(MatchCapabilityOut),
                               metadata={"description": "Capabilities of the demand's category that match, at most 5"})


class ProposalsOut(Schema):
    demand_id = fields.String()
    items = fields.List(fields.Nested(ProposalOut), metadata={"description": "Best first"})


class SlaDemandOut(Schema):
    demand = fields.Nested(DemandOut)
    clock = fields.Nested(SlaClockOut)


class SlaDemandsOut(Schema):
    state = fields.String(metadata={"description": "due_soon, overdue, calendar_gap (no due date until the "
                                                   "year's holiday notice is loaded), or all when no state was asked for"})
    items = fields.List(fields.Nested(SlaDemandOut), metadata={"description": "One entry per clock listed"})
    total = fields.Integer()
