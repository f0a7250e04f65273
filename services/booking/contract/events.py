"""Events booking publishes on `booking.events` (ids and times only: no personal data)."""
from __future__ import annotations

from services.common import fields
from services.common.evaluation import FinishedService
from services.common.money import Money
from services.common.operations import EventType
from services.common.sla_events import clock_closed_of
from services.common.schemas import Schema


class InstrumentEvent(Schema):
    instrument_id = fields.String(required=True)
    institution_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    park = fields.String(required=True, allow_none=True)
    station_window_id = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    reason = fields.String(load_default=None, allow_none=True)


class BookingEvent(Schema):
    booking_id = fields.String(required=True)
    instrument_id = fields.String(required=True)
    institution_id = fields.String(required=True)
    status = fields.String(required=True)
    mode = fields.String(required=True)
    starts_at = fields.String(required=True)
    ends_at = fields.String(required=True)
    reason_code = fields.String(load_default=None, allow_none=True)
    cancelled_by = fields.String(load_default=None, allow_none=True)
    fee = Money(load_default=None, allow_none=True)


class BookingCompleted(BookingEvent):
    actual_start = fields.String(required=True)
    actual_end = fields.String(required=True)
    used_minutes = fields.Integer(required=True)
    evaluation = fields.Nested(FinishedService, required=True)


class AppointmentEvent(Schema):
    appointment_id = fields.String(required=True)
    slot_id = fields.String(required=True)
    window_id = fields.String(required=True)
    service_item = fields.String(required=True)
    starts_at = fields.String(required=True)
    status = fields.String(required=True)
    demand_id = fields.String(load_default=None, allow_none=True)
    case_id = fields.String(load_default=None, allow_none=True)


class AppointmentCompleted(AppointmentEvent):
    evaluation = fields.Nested(FinishedService, required=True)


class WaitlistOffered(Schema):
    entry_id = fields.String(required=True)
    instrument_id = fields.String(required=True)
    starts_at = fields.String(required=True)
    ends_at = fields.String(required=True)
    offer_expires_at = fields.String(required=True)


class WaitlistOfferLapsed(WaitlistOffered):
    next_entry_id = fields.String(required=True, allow_none=True,
                                  metadata={"description": "The entry offered the time next, if any"})


INSTRUMENT_ID = "0b7f6a52-3f1e-4c3a-9d55-6b2f0e9b1c01"
INSTITUTION_ID = "6c1f0e2a-8a53-5b1e-9f0b-3d1c2a4e5f60"
BOOKING_ID = "5d2e8c14-7b6a-4f3e-8c2d-1a0b9e8f7d61"
APPOINTMENT_ID = "8e4a2c10-1f3b-4d5e-9a7c-6b0d2e4f1a82"
_INSTRUMENT = {"instrument_id": INSTRUMENT_ID, "institution_id": INSTITUTION_ID, "revision": 1,
               "name": "万能材料试验机", "category": "testing", "park": "海陵工业园区",
               "station_window_id": "ps-hlgy", "status": "published", "reason": None}
_BOOKING = {"booking_id": BOOKING_ID, "instrument_id": INSTRUMENT_ID, "institution_id": INSTITUTION_ID,
            "status": "requested", "mode": "self", "starts_at": "2026-12-03T01:00:00Z",
            "ends_at": "2026-12-03T03:00:00Z", "reason_code": None, "cancelled_by": None, "fee": None}
_APPOINTMENT = {"appointment_id": APPOINTMENT_ID, "slot_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
                "window_id": "ps-hlgy", "service_item": "tst.matching", "starts_at": "2026-12-03T01:00:00Z",
                "status": "booked", "demand_id": None, "case_id": None}
_EVALUATION = {"enterprise_id": "11111111-1111-4111-8111-111111111111", "finished_at": "2026-12-03T03:30:00Z"}
_OFFER = {"entry_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "instrument_id": INSTRUMENT_ID,
          "starts_at": "2026-12-03T01:00:00Z", "ends_at": "2026-12-03T03:00:00Z",
          "offer_expires_at": "2026-12-02T04:00:00Z"}
EXAMPLES = {
    "instrument.published": _INSTRUMENT,
    "instrument.changed": {**_INSTRUMENT, "revision": 2, "reason": "blackout: 年度校准"},
    "instrument.withdrawn": {**_INSTRUMENT, "revision": 3, "status": "withdrawn",
                             "reason": "机构已注销 / institution deregistered"},
    "booking.requested": _BOOKING,
    "booking.approved": {**_BOOKING, "status": "confirmed"},
    "booking.rejected": {**_BOOKING, "status": "expired", "reason_code": "approval_expired"},
    "booking.cancelled": {**_BOOKING, "status": "cancelled", "cancelled_by": "user", "fee": "0.00"},
    "booking.checked_in": {**_BOOKING, "status": "checked_in"},
    "booking.completed": {**_BOOKING, "status": "completed", "fee": "300.00", "actual_start": "2026-12-03T01:05:00Z",
                          "actual_end": "2026-12-03T02:15:00Z", "used_minutes": 70,
                          "evaluation": {"service_type": "booking", "service_id": BOOKING_ID,
                                         "institution_id": INSTITUTION_ID, "window_id": "ps-hlgy",
                                         "handler_id": "22222222-2222-4222-8222-222222222222", **_EVALUATION}},
    "booking.no_show": {**_BOOKING, "status": "no_show"},
    "appointment.booked": _APPOINTMENT,
    "appointment.cancelled": {**_APPOINTMENT, "status": "cancelled"},
    "appointment.completed": {**_APPOINTMENT, "status": "completed",
                              "evaluation": {"service_type": "appointment", "service_id": APPOINTMENT_ID,
                                             "institution_id": None, "window_id": "ps-hlgy",
                                             "handler_id": "33333333-3333-4333-8333-333333333333", **_EVALUATION}},
    "appointment.no_show": {**_APPOINTMENT, "status": "no_show"},
    "waitlist.offered": _OFFER,
    "waitlist.offer_lapsed": {**_OFFER, "next_entry_id": "4c3b2a19-0f8e-4d7c-9b6a-5e4d3c2b1a09"},
}


def _e(type_, payload, en, zh):
    return EventType(type_, payload, f"{en} / {zh}", example=EXAMPLES[type_])


EVENTS = (
    _e("instrument.published", InstrumentEvent, "An instrument is listed for booking", "仪器发布共享"),
    _e("instrument.changed", InstrumentEvent, "An instrument's data or rules changed", "仪器信息或规则变更"),
    _e("instrument.withdrawn", InstrumentEvent, "An instrument is withdrawn", "仪器下架"),
    _e("booking.requested", BookingEvent, "A booking is requested (holds its slot)", "提交预约申请"),
    _e("booking.approved", BookingEvent, "A booking is confirmed", "预约已确认"),
    _e("booking.rejected", BookingEvent, "A booking is rejected or its approval expired", "预约被拒绝或审批超时"),
    _e("booking.cancelled", BookingEvent, "A booking is cancelled", "预约取消"),
    _e("booking.checked_in", BookingEvent, "The user checked in", "已签到上机"),
    _e("booking.completed", BookingCompleted, "Use finished: actual times and fee", "使用完成"),
    _e("booking.no_show", BookingEvent, "Not checked in in time: the slot is released", "爽约"),
    _e("appointment.booked", AppointmentEvent, "A window appointment is booked", "窗口预约成功"),
    _e("appointment.cancelled", AppointmentEvent, "A window appointment is cancelled", "窗口预约取消"),
    _e("appointment.completed", AppointmentCompleted, "A window appointment was served", "窗口预约办结"),
    _e("appointment.no_show", AppointmentEvent, "The enterprise did not come", "窗口预约爽约"),
    _e("waitlist.offered", WaitlistOffered, "A freed time is offered to the first in line (held 2 hours)",
       "候补时段释放，通知排队首位"),
    _e("waitlist.offer_lapsed", WaitlistOfferLapsed, "An offer expired unaccepted and passed to the next in line",
       "候补机会过期，顺延下一位"),
)
EVENTS += (clock_closed_of("booking"),)   # every service: services.common.sla_events
