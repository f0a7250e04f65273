"""Request and response schemas of the matching API, used by the gateway (validation + OpenAPI)
and again by the service (its RPC queue is reachable by more than the gateway).

Dates travel as ISO strings: the gateway passes loaded bodies over RPC, and a
string survives any JSON serializer unchanged.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError

from services.common import errors, fields, validate
from services.common.fields import PATTERN_MULTI_NOT_BLANK
from services.common.money import Money
from services.common.schemas import Schema, SlaClockOut, load

from .models import CHANNELS, DEMAND_STATUSES
from .text import CATEGORIES, standard_key

QUALIFICATION_TYPES = ("CMA", "CNAS", "LEGAL_METROLOGY", "CERT_BODY", "OTHER")
# Upper bounds on every number a client sends. Without them a value such as 1e307
# passes validation and overflows later (a Numeric(13, 2) column, an integer
# column on PostgreSQL), which surfaces as a 500 instead of a 422.
YUAN_DIGITS = 10           # below ten billion yuan: far above any testing/certification fee
MAX_CYCLE_DAYS = 3650      # ten years of working days, for filters over capabilities
MAX_DEMAND_CYCLE_DAYS = 365
# Money is a decimal string of yuan (services/common/money.py), stored as Numeric(13, 2).
_yuan = lambda **kw: Money(integer_digits=YUAN_DIGITS, **kw)  # noqa: E731
_text = lambda n, **kw: fields.String(validate=validate.Length(max=n), **kw)  # noqa: E731
# Descriptions, notes, messages and reasons may hold several lines.
_notes = lambda n, **kw: fields.MultilineString(validate=validate.Length(max=n), **kw)  # noqa: E731

# What the document states for a standard number (ASCII spelling; text.standard_key
# accepts every string this matches).
STANDARD_PATTERN = r"^[A-Za-z]{1,4} ?/? ?[TZtz]? ?[0-9]{1,10}(\.[0-9]{1,6}){0,4}( ?- ?[0-9]{2,4})?$"
# Maintaining a standard names one edition: the year is required.
STANDARD_EDITION_PATTERN = r"^[A-Za-z]{1,4} ?/? ?[TZtz]? ?[0-9]{1,10}(\.[0-9]{1,6}){0,4} ?- ?[0-9]{4}$"
ISO_DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
ISO_DATETIME_PATTERN = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                        r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")


def _iso_date(value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError("日期格式须为 YYYY-MM-DD / YYYY-MM-DD") from None


def _iso_datetime(value: str) -> None:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise ValidationError("须为 ISO 8601 日期时间 / ISO 8601 date-time") from None


def _standard(value: str) -> None:
    if not standard_key(value):
        raise ValidationError("不是标准号 / not a standard number, e.g. GB/T 2828.1-2012")


_STANDARD = [validate.Length(min=2, max=80),
             validate.Regexp(STANDARD_PATTERN, error="不是标准号，例如 GB/T 2828.1-2012 / not a standard number, "
                                                     "e.g. GB/T 2828.1-2012"), _standard]


class SearchQuery(Schema):
    q = _text(200)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    item = _text(64)
    region = _text(50)
    park = _text(100)
    qualification = fields.String(validate=validate.OneOf(QUALIFICATION_TYPES))
    standard = fields.String(validate=_STANDARD)
    price_max = _yuan()
    cycle_max = fields.Integer(validate=validate.Range(min=0, max=MAX_CYCLE_DAYS))
    rating_min = fields.Float(validate=validate.Range(min=0, max=5))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = _text(300)


class LookupQuery(Schema):
    q = _text(200)
    region = _text(50)
    standard = fields.String(validate=_STANDARD)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = _text(300)


class StandardQuery(Schema):
    number = fields.String(required=True, validate=_STANDARD)


class StandardPut(Schema):
    title = _text(300, required=True)
    status = fields.String(required=True, validate=validate.OneOf(("current", "replaced", "withdrawn")))
    replaced_by = fields.String(allow_none=True, validate=_STANDARD)
    replaces = fields.List(fields.String(validate=_STANDARD), validate=validate.Length(max=10))


class DemandFields(Schema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    description = _notes(4000)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    item_code = _text(64, allow_none=True)
    product = _text(200, allow_none=True)
    standard = fields.String(allow_none=True, validate=_STANDARD)
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
    message = fields.MultilineString(required=True, validate=validate.Length(min=1, max=4000))


class ProposalQuery(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class RecommendedInstitution(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = _notes(1000)


class RecommendationCreate(Schema):
    institutions = fields.List(fields.Nested(RecommendedInstitution), required=True,
                               validate=validate.Length(min=1, max=20))
    note = _notes(2000)


class EngagementCreate(Schema):
    institution_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    agreed_items = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                               validate=validate.Length(min=1, max=50))
    agreed_cycle_working_days = fields.Integer(allow_none=True,
                                               validate=validate.Range(min=1, max=MAX_DEMAND_CYCLE_DAYS))
    first_contact_at = fields.String(allow_none=True, validate=[validate.Regexp(ISO_DATETIME_PATTERN), _iso_datetime],
                                     metadata={"description": "ISO 8601 with offset, e.g. 2026-03-02T09:30:00+08:00"})
    first_contact_notes = _notes(2000)


class FollowUpCreate(Schema):
    kind = fields.String(load_default="note", validate=validate.OneOf(("problem", "coordination", "progress", "note")))
    note = fields.MultilineString(required=True, validate=validate.Length(min=1, max=4000))


class ReferralCreate(Schema):
    external_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    external_contact = _text(200)
    reason = fields.MultilineString(required=True, validate=validate.Length(min=1, max=2000))
    note = _notes(2000)


# Who may close with which outcome, and what it does to the SLA clocks, is decided
# in demands.close: "withdrawn" is the enterprise's own; "rejected" and "duplicate"
# are staff's, need a reason in `note`, and are the only ways for staff to close a
# demand the platform has not answered yet.
CLOSE_OUTCOMES = ("completed", "cancelled", "unresolved", "withdrawn", "rejected", "duplicate")


class CloseDemand(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    note = _notes(2000)

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"outcome": {"enum": ["completed", "cancelled", "unresolved",
                                                                    "withdrawn"]}}},
                               {"required": ["note"], "properties": {"note": {"pattern": PATTERN_MULTI_NOT_BLANK}}}],
                     "description": "rejected and duplicate need the reason in note"}


class SlaQuery(Schema):
    state = fields.String(validate=validate.OneOf(("due_soon", "overdue", "calendar_gap")),
                          metadata={"description": "Leave out to list every running demand clock; calendar_gap: "
                                                   "no due date until the year's holiday notice is loaded"})


class VisitCreate(Schema):
    enterprise_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    enterprise_user_id = _text(64, allow_none=True)
    visited_on = fields.String(required=True, validate=[validate.Regexp(ISO_DATE_PATTERN), _iso_date],
                               metadata={"description": "YYYY-MM-DD"})
    notes = _notes(4000)
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



# -- responses ----------------------------------------------------------------------------
# The gateway dumps each RPC result through these: a field left out here is left out of
# the HTTP response (services/gateway/tests/test_response_schemas.py checks the views).

class MatchQualificationOut(Schema):
    """A qualification of an indexed institution (registry's PublicQualification + currently_valid)."""

    qualification_id = fields.String()
    type = fields.String(metadata={"description": ", ".join(QUALIFICATION_TYPES)})
    number = fields.String(allow_none=True)
    issuer = fields.String(allow_none=True)
    valid_from = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    valid_to = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    scope = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "valid, expired or revoked, as the registry published it"})
    currently_valid = fields.Boolean(metadata={"description": "status valid and valid_to not past today"})


class MatchCapabilityOut(Schema):
    """A capability as the registry published it (PublicCapability of docs/asyncapi.yaml)."""

    capability_id = fields.String()
    category = fields.String()
    item_code = fields.String(allow_none=True)
    item_name = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    parameter = fields.String(allow_none=True)
    method_standard = fields.String(allow_none=True, metadata={"description": "e.g. GB/T 2828.1-2012"})
    price_yuan = _yuan(allow_none=True)
    cycle_working_days = fields.Integer(allow_none=True)
    qualification_id = fields.String(allow_none=True)


_EXPLAIN = ("How the score was made, one entry per factor: {factor, value (0..1), weight, contribution "
            "(weight x value, summing to the score), note}")


class _PublicProfileOut(Schema):
    institution_id = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.String(allow_none=True)
    park = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    qualifications = fields.List(fields.Nested(MatchQualificationOut))
    rating = fields.Float(allow_none=True, metadata={"description": "Average rating out of 5; null: no ratings yet"})
    on_time_rate = fields.Float(allow_none=True, metadata={"description": "Share of services finished on time "
                                                                          "(0..1); null: no record yet"})


class SearchItemOut(_PublicProfileOut):
    matched_capabilities = fields.List(fields.Nested(MatchCapabilityOut),
                                       metadata={"description": "Capabilities that match the query, at most 5"})
    matched_capability_count = fields.Integer(metadata={"description": "All matching capabilities"})
    score = fields.Float()
    explain = fields.List(fields.Dict(), metadata={"description": _EXPLAIN})


class SearchResultOut(Schema):
    items = fields.List(fields.Nested(SearchItemOut))
    total = fields.Integer(metadata={"description": "All matches, not only this page"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "Pass as `cursor` for the next page"})
    query_terms = fields.List(fields.String(), metadata={"description": "The words `q` was split into"})
    ignored_terms = fields.List(fields.String(), metadata={"description": "Words the index has never seen; "
                                                                          "they do not narrow the result"})


class LookupResultOut(SearchResultOut):
    lookup = fields.String(metadata={"description": "metrology, labs or certification"})


class InstitutionProfileOut(_PublicProfileOut):
    capabilities = fields.List(fields.Nested(MatchCapabilityOut))


class StandardOut(Schema):
    number = fields.String(metadata={"description": "e.g. GB/T 19001-2016"})
    key = fields.String(metadata={"description": "The number without edition year or spacing, e.g. GBT19001"})
    title = fields.String()
    status = fields.String(metadata={"description": "current, replaced or withdrawn"})
    replaced_by = fields.String(allow_none=True)
    replaces = fields.List(fields.String())
    updated_at = fields.String(allow_none=True)


class StandardLookupOut(Schema):
    query = fields.String(metadata={"description": "The number as asked"})
    key = fields.String()
    status = fields.String(metadata={"description": "Status of the asked edition (or of the current one when no "
                                                    "year was given)"})
    verdict = fields.String(metadata={"description": "The status in words, zh / en"})
    standard = fields.Nested(StandardOut, metadata={"description": "The edition the verdict is about"})
    current_edition = fields.Nested(StandardOut, allow_none=True)
    editions = fields.List(fields.Nested(StandardOut), metadata={"description": "Every edition known, newest first"})


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
    at = fields.String()
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
    share_yuan = _yuan(allow_none=True, metadata={"description": "This demand's share of the package price"})


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
    budget_yuan = _yuan(allow_none=True)
    desired_cycle_working_days = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": ", ".join(DEMAND_STATUSES)})
    institution_id = fields.String(allow_none=True, metadata={"description": "Institution it is connected to"})
    package_id = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={"description": "Set when closed"})
    created_at = fields.String()
    closed_at = fields.String(allow_none=True)
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
    explain = fields.List(fields.Dict(), metadata={"description": _EXPLAIN})
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


class VisitOut(Schema):
    id = fields.String()
    window_id = fields.String()
    staff_user_id = fields.String()
    enterprise_user_id = fields.String(allow_none=True)
    enterprise_name = fields.String()
    visited_on = fields.String(metadata={"description": "YYYY-MM-DD"})
    notes = fields.String()
    recorded_at = fields.String()
    demand_ids = fields.List(fields.String(), metadata={"description": "Demands collected on the visit"})


class VisitPageOut(Schema):
    items = fields.List(fields.Nested(VisitOut))
    total = fields.Integer()


class PackageGroupOut(Schema):
    industry = fields.String(allow_none=True)
    category = fields.String()
    item_code = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    demand_ids = fields.List(fields.String())
    enterprise_count = fields.Integer()


class PackageGroupsOut(Schema):
    items = fields.List(fields.Nested(PackageGroupOut))


class PackageMemberOut(Schema):
    demand_id = fields.String()
    enterprise_user_id = fields.String()
    share_yuan = _yuan()


class PackageOut(Schema):
    id = fields.String()
    title = fields.String()
    industry = fields.String(allow_none=True)
    category = fields.String()
    item_code = fields.String(allow_none=True)
    product = fields.String(allow_none=True)
    institution_id = fields.String()
    window_id = fields.String(allow_none=True)
    created_at = fields.String()
    package_price_yuan = _yuan(allow_none=True, metadata={"description": "Null for an enterprise"})
    members = fields.List(fields.Nested(PackageMemberOut),
                          metadata={"description": "An enterprise sees only its own demands"})
