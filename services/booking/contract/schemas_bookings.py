"""Booking schemas of the booking lifecycle, window appointments, waitlist, weekly series, feeds and usage."""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from services.common import fields
from services.common.money import Money
from services.common.schemas import Schema

from .vocabulary import BOOKING_MODES, BOOKING_STATUSES, PAYMENT_SOURCES, PRICE_GROUPS, REJECT_REASONS
from .schemas import RuleViolationOut, Utc


# -- bookings ------------------------------------------------------------------------------------
class BookingIn(Schema):
    instrument_id = fields.String(required=True, validate=validate.Length(1, 36))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    mode = fields.String(load_default="self", validate=validate.OneOf(BOOKING_MODES))
    price_group = fields.String(load_default="enterprise", validate=validate.OneOf(PRICE_GROUPS))
    purpose = fields.String(load_default="", validate=validate.Length(0, 500))

    @validates_schema
    def _order(self, data, **_):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("结束须晚于开始 / ends_at must be after starts_at", "ends_at")


class RejectIn(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf([r for r in REJECT_REASONS
                                                                         if r != "approval_expired"]))
    reason = fields.String(load_default="", validate=validate.Length(0, 500))


class ApproveIn(Schema):
    note = fields.String(load_default="", validate=validate.Length(0, 500))


class CancelIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(0, 500))
    fault = fields.Boolean(load_default=False, metadata={"description": "Institution only: an instrument fault"})


class CheckInIn(Schema):
    code = fields.String(load_default=None, allow_none=True, validate=validate.Length(4, 12),
                         metadata={"description": "The code shown at the station (the user's check-in); staff "
                                                  "check in without it"})


class CompleteIn(Schema):
    actual_start = fields.AwareDateTime(required=True)
    actual_end = fields.AwareDateTime(required=True)

    @validates_schema
    def _order(self, data, **_):
        if data.get("actual_start") and data.get("actual_end") and data["actual_end"] <= data["actual_start"]:
            raise ValidationError("结束须晚于开始 / actual_end must be after actual_start", "actual_end")


class SettleIn(Schema):
    payment_source = fields.String(required=True, validate=validate.OneOf(PAYMENT_SOURCES))
    amount = Money(required=True)
    voucher_number = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Regexp(r"^[A-Za-z0-9-]{6,40}$"),
                                   metadata={"description": "创新券编号, required for an innovation voucher"})

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"payment_source": {"enum": [p for p in PAYMENT_SOURCES
                                                                           if p != "innovation_voucher"]}}},
                               {"required": ["voucher_number"], "properties": {"voucher_number": {"type": "string"}}}],
                     "description": "An innovation voucher (创新券) needs its number; the amount must be the fee"}

    @validates_schema
    def _voucher(self, data, **_):
        if data.get("payment_source") == "innovation_voucher" and not data.get("voucher_number"):
            raise ValidationError("创新券须填写券号 / an innovation voucher needs its number", "voucher_number")


class BookingQuery(Schema):
    status = fields.String(validate=validate.OneOf(BOOKING_STATUSES))
    instrument_id = fields.String(validate=validate.Length(1, 36))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class BookingOut(Schema):
    id = fields.String()
    instrument_id = fields.String()
    instrument_name = fields.String(allow_none=True)
    institution_id = fields.String()
    user_id = fields.String()
    status = fields.String(metadata={"description": " | ".join(BOOKING_STATUSES)})
    mode = fields.String()
    price_group = fields.String()
    purpose = fields.String()
    starts_at = Utc()
    ends_at = Utc()
    approval_due_at = Utc(allow_none=True)
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    checkin_code = fields.String(allow_none=True, metadata={"description": "Shown to the institution's staff only"})
    check_in_opens_at = Utc(metadata={"description": "From then until ends_at the booking can be checked in and its "
                                                     "use started (checkin_opens_minutes_before in the policy)"})
    checked_in_at = Utc(allow_none=True)
    actual_start = Utc(allow_none=True)
    actual_end = Utc(allow_none=True)
    fee = Money(allow_none=True)
    fee_reason = fields.String(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    payment_source = fields.String(allow_none=True)
    voucher_number = fields.String(allow_none=True)
    paid_amount = Money(allow_none=True)
    settled_at = Utc(allow_none=True)
    created_at = Utc()
    usage_record_id = fields.String(allow_none=True, metadata={"description": "Its actual use, once started"})
    in_use = fields.Boolean(metadata={"description": "Use started and not yet stopped"})


# -- appointments ---------------------------------------------------------------------------------
class SlotsIn(Schema):
    window_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64),
                              metadata={"description": "Operators name it; window staff publish for their own"})
    date = fields.Date(required=True)
    times = fields.List(fields.String(validate=validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")), required=True,
                        validate=validate.Length(1, 20))
    minutes = fields.Integer(load_default=30, validate=validate.Range(30, 60))
    capacity = fields.Integer(load_default=2, validate=validate.Range(1, 20))
    service_items = fields.List(fields.String(validate=validate.Length(1, 64)), required=True,
                                validate=validate.Length(1, 20))


class _DayRangeQuery(Schema):
    """A query with optional `from` / `to` days: `from` after `to` is a mistake to be told, not
    an empty page that looks like "none"."""

    @validates_schema
    def _range(self, data, **_):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ValidationError("结束日期不得早于开始日期 / to must not be before from", "to")


class SlotQuery(_DayRangeQuery):
    window_id = fields.String(validate=validate.Length(1, 64))
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class AppointmentSlotOut(Schema):
    id = fields.String()
    window_id = fields.String()
    starts_at = Utc()
    ends_at = Utc()
    capacity = fields.Integer()
    taken = fields.Integer()
    free = fields.Integer()
    service_items = fields.List(fields.String())


class AppointmentIn(Schema):
    slot_id = fields.String(required=True, validate=validate.Length(1, 36))
    service_item = fields.String(required=True, validate=validate.Length(1, 64))
    demand_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 36))
    case_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 36))


class AppointmentQuery(_DayRangeQuery):
    window_id = fields.String(validate=validate.Length(1, 64))
    from_ = fields.Date(data_key="from", metadata={"description": "From this day (Asia/Shanghai) on, soonest first; "
                                                                 "without it the latest come first"})
    to = fields.Date(metadata={"description": "Up to this day (Asia/Shanghai), inclusive"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class AppointmentOut(Schema):
    id = fields.String()
    slot_id = fields.String()
    window_id = fields.String()
    user_id = fields.String()
    service_item = fields.String()
    starts_at = Utc()
    ends_at = Utc()
    status = fields.String()
    demand_id = fields.String(allow_none=True)
    case_id = fields.String(allow_none=True)
    checked_in_at = Utc(allow_none=True)
    completed_at = Utc(allow_none=True)


class EmptyIn(Schema):
    pass


class LiftOut(Schema):
    user_id = fields.String()
    lifted = fields.Integer(metadata={"description": "Active suspensions lifted"})


class SuspensionQuery(Schema):
    appealed = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "Only (not) appealed ones"})


class AppealIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(5, 1000),
                           metadata={"description": "Why the no-shows should not count / 申诉理由"})


class AppealDecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("lifted", "upheld")))
    reason = fields.String(required=True, validate=validate.Length(1, 1000))


class SuspensionOut(Schema):
    id = fields.String()
    user_id = fields.String()
    state = fields.String(metadata={"description": "active, ended or lifted"})
    starts_at = fields.String()
    until = fields.String()
    no_shows = fields.Integer()
    appeal_reason = fields.String(allow_none=True)
    appealed_at = fields.String(allow_none=True)
    decision = fields.String(allow_none=True, metadata={"description": "lifted or upheld"})
    decision_reason = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    lifted_at = fields.String(allow_none=True)


# -- waitlist, weekly series, calendar feeds ---------------------------------------------------------
class WaitlistIn(BookingIn):
    pass


class WaitlistOut(Schema):
    id = fields.String()
    instrument_id = fields.String()
    starts_at = Utc()
    ends_at = Utc()
    mode = fields.String()
    price_group = fields.String()
    status = fields.String(metadata={"description": "waiting, offered (held for you until offer_expires_at), "
                                                    "accepted, lapsed, cancelled"})
    offer_expires_at = Utc(allow_none=True)
    booking_id = fields.String(allow_none=True)


class SeriesIn(BookingIn):
    weeks = fields.Integer(required=True, validate=validate.Range(2, 12))


class OccurrenceOut(Schema):
    index = fields.Integer()
    starts_at = Utc()
    ends_at = Utc()
    bookable = fields.Boolean()
    rules = fields.List(fields.Nested(RuleViolationOut))
    booking_id = fields.String(allow_none=True)


class SeriesOut(Schema):
    series_id = fields.String(allow_none=True)
    bookable = fields.Integer()
    occurrences = fields.List(fields.Nested(OccurrenceOut))


class FeedIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("user", "instrument")))
    instrument_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 36))

    OPENAPI_EXTRA = {"anyOf": [{"properties": {"kind": {"const": "user"}}},
                               {"required": ["instrument_id"], "properties": {"instrument_id": {"type": "string"}}}],
                     "description": "An instrument's feed names the instrument"}


class FeedOut(Schema):
    token = fields.String()
    kind = fields.String()
    instrument_id = fields.String(allow_none=True)
    url = fields.String(metadata={"description": "The private feed (text/calendar); keep it secret, revoke to end it"})
    revoked = fields.Boolean()
    created_at = Utc()


class UsageQuery(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$"),
                          metadata={"description": "YYYY-MM (Asia/Shanghai)"})


class UsageOut(Schema):
    instrument_id = fields.String()
    month = fields.String()
    bookings = fields.Integer()
    booked_minutes = fields.Integer()
    used_minutes = fields.Integer(metadata={"description": "Actual use: booked use plus walk-in use"})
    used_booked_minutes = fields.Integer(metadata={"description": "Actual use of the month's bookings"})
    walk_in_minutes = fields.Integer(metadata={"description": "Use recorded without a booking (flagged)"})
    unbooked_records = fields.Integer(metadata={"description": "Usage records without a booking, to reconcile"})
    no_shows = fields.Integer()
    revenue = Money()
