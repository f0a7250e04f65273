"""Events booking publishes on `booking.events` (ids and times only: no personal data)."""
from __future__ import annotations

from services.common import fields
from services.common.evaluation import FinishedService
from services.common.money import Money
from services.common.operations import EventType
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


def _e(type_, payload, en, zh):
    return EventType(type_, payload, f"{en} / {zh}")


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
)
