"""The booking lifecycle.

requested (holds its slot; approval within the SLA rule booking.approval, in working
days; expiry releases it) -> confirmed -> checked_in (staff, or the user with the code
shown at the station) -> completed (actual start and end; fee from actual use, price
group, minimum charge) -> settled (payment recorded; innovation voucher number).
Cancelled (free before the deadline; after it charged unless re-booked; never when the
institution cancels or the instrument is at fault), rejected, expired, no_show
(not checked in N minutes after the start; 3 in 90 days suspend booking for 30 days).

Every accepted booking claims its 15-minute units in `slot_claim` in the same
transaction: of two concurrent requests for the same time exactly one commits.
"""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import sla
from services.common.db import new_id
from services.common.errors import Forbidden, ValidationFailed
from services.common.money import money_str, to_money

from . import fees, instruments, metrics
from . import rules as engine
from .common import (check_in_opens_at, event, iso, is_institution_staff, is_operator, is_reader, not_found, now_or,
                     policy, refuse, require_caller, require_institution_staff, slot_taken, utc, wrong_state)
from .models import Booking, Instrument, NoShow, SlotClaim, Suspension, UsageRecord

APPROVAL_RULE = "booking.approval"


def get_row(session: Session, booking_id: str, for_update: bool = True) -> Booking:
    query = select(Booking).where(Booking.id == str(booking_id))
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise not_found("booking")
    return row


def _can_read(principal: dict, b: Booking) -> bool:
    return (str(principal.get("user_id")) == b.user_id or is_reader(principal)
            or is_institution_staff(principal, b.institution_id))


def view(session: Session, b: Booking, principal: dict | None) -> dict:
    inst = session.get(Instrument, b.instrument_id)
    staff = is_operator(principal) or is_institution_staff(principal, b.institution_id)
    out = {c: getattr(b, c) for c in (
        "id", "instrument_id", "institution_id", "user_id", "status", "mode", "price_group", "purpose", "starts_at",
        "ends_at", "approval_due_at", "reason_code", "reason", "checked_in_at", "actual_start", "actual_end", "fee",
        "fee_reason", "cancelled_by", "payment_source", "voucher_number", "paid_amount", "settled_at", "created_at")}
    out["instrument_name"] = inst.name if inst else None
    out["checkin_code"] = b.checkin_code if staff else None
    out["check_in_opens_at"] = check_in_opens_at(b.starts_at)
    usage = session.scalars(select(UsageRecord).where(UsageRecord.booking_id == b.id)).first()
    out["usage_record_id"], out["in_use"] = (usage.id, usage.stopped_at is None) if usage else (None, False)
    return out


def _event_data(b: Booking) -> dict:
    return {"booking_id": b.id, "instrument_id": b.instrument_id, "institution_id": b.institution_id,
            "status": b.status, "mode": b.mode, "starts_at": iso(b.starts_at), "ends_at": iso(b.ends_at),
            "reason_code": b.reason_code, "cancelled_by": b.cancelled_by, "fee": money_str(b.fee)}


def _release(session: Session, b: Booking, now: dt.datetime | None = None) -> None:
    """The booking no longer occupies its time: claims go, and the first waiting user gets an offer."""
    from . import waitlist
    session.execute(delete(SlotClaim).where(SlotClaim.booking_id == b.id))
    waitlist.offer_next(session, b.instrument_id, b.starts_at, b.ends_at, now_or(now))


def _claim(session: Session, b: Booking, inst: Instrument) -> None:
    for unit in engine.claim_units(b.starts_at, b.ends_at, inst.buffer_minutes):
        session.add(SlotClaim(instrument_id=inst.id, unit_start=unit, booking_id=b.id))
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request claimed one of these units first (the primary key decides).
        raise slot_taken() from None


def _stop_clock(session: Session, b: Booking, at: dt.datetime, cancel: bool = False) -> None:
    clock = sla.find_clock(session, APPROVAL_RULE, "booking", b.id)
    if clock is not None:
        (sla.cancel_clock if cancel else sla.stop_clock)(session, clock, at=at)


def _price_group_check(session: Session, principal: dict, inst: Instrument, group: str) -> None:
    if group == "internal" and not is_institution_staff(principal, inst.institution_id):
        raise ValidationFailed("The internal price is for the institution's own staff / 本机构人员价格仅限本机构人员",
                               errors={"price_group": ["internal: own staff only / 仅限本机构人员"]})
    if group not in instruments.prices(session, inst):
        raise ValidationFailed("The instrument has no price for this group / 该仪器未设置此价格组",
                               errors={"price_group": ["not offered / 未提供"]})


def judge(session: Session, principal: dict, inst: Instrument, start: dt.datetime, end: dt.datetime, mode: str,
          now: dt.datetime) -> list:
    """Every rule the request breaks (the rule engine, fed from the database)."""
    ctx = instruments.context_for(session, inst, principal, start, end, now)
    return engine.request_violations(instruments.rules_of(inst), start, end, ctx, mode=mode)


def create(session: Session, principal: dict, inst: Instrument, start: dt.datetime, end: dt.datetime, data: dict,
           now: dt.datetime, series_id: str | None = None) -> Booking:
    """An accepted request: the booking, its slot claims (the race is decided here), its clock and events."""
    b = Booking(id=new_id(), instrument_id=inst.id, institution_id=inst.institution_id,
                user_id=str(principal["user_id"]), price_group=data["price_group"], mode=data["mode"],
                purpose=data.get("purpose", ""), starts_at=start, ends_at=end, series_id=series_id, sequence=0,
                status="requested" if inst.approval_required else "confirmed",
                checkin_code=f"{secrets.randbelow(10 ** 6):06d}", created_at=now, updated_at=now)
    session.add(b)
    _claim(session, b, inst)
    event(session, "booking.requested", b.id, _event_data(b))
    if b.status == "requested":
        # The instrument's institution approves: its on-time rate (sla.clock_closed).
        clock = sla.start_clock(session, APPROVAL_RULE, "booking", b.id, at=now, institution_id=b.institution_id)
        b.approval_due_at = min(clock.due_at, start) if clock.due_at else start
    else:
        b.decided_at = now
        _waive_rebooked(session, inst, start, end)
        event(session, "booking.approved", b.id, _event_data(b))
    session.flush()
    return b


def request_booking(session: Session, principal: dict, data: dict, now: dt.datetime | None = None) -> dict:
    principal = require_caller(principal)
    now = now_or(now)
    inst = instruments.get_row(session, data["instrument_id"])
    _price_group_check(session, principal, inst, data["price_group"])
    start, end = utc(data["starts_at"]), utc(data["ends_at"])
    found = judge(session, principal, inst, start, end, data["mode"], now)
    if found:
        refuse(found)
    return view(session, create(session, principal, inst, start, end, data, now), principal)


def _waive_rebooked(session: Session, inst: Instrument, start: dt.datetime, end: dt.datetime) -> None:
    """A late cancellation is not charged once its time is booked again: confirmed, not merely
    requested (a rejected or lapsed request never re-booked the slot)."""
    for old in session.scalars(select(Booking).where(
            Booking.instrument_id == inst.id, Booking.status == "cancelled", Booking.fee_reason == "late_cancellation",
            Booking.settled_at.is_(None), Booking.starts_at < end, Booking.ends_at > start)):
        old.fee, old.fee_reason = to_money(0), "slot_rebooked"


def list_bookings(session: Session, principal: dict, query: dict) -> list:
    principal = require_caller(principal)
    stmt = select(Booking)
    if principal.get("role") == "institution":
        stmt = stmt.where(Booking.institution_id == principal.get("institution_id"))
    elif not is_reader(principal):
        stmt = stmt.where(Booking.user_id == str(principal["user_id"]))
    for name in ("status", "instrument_id"):
        if query.get(name):
            stmt = stmt.where(getattr(Booking, name) == query[name])
    rows = session.scalars(stmt.order_by(Booking.starts_at.desc(), Booking.id).limit(query["limit"])).all()
    return [view(session, b, principal) for b in rows]


def get_booking(session: Session, principal: dict, booking_id: str) -> dict:
    b = get_row(session, booking_id, for_update=False)
    if not _can_read(principal, b):
        raise not_found("booking")
    return view(session, b, principal)


def approve(session: Session, principal: dict, booking_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    b = get_row(session, booking_id)
    require_institution_staff(principal, b.institution_id)
    if b.status != "requested":
        raise wrong_state("approve", b.status)
    b.status, b.decided_at, b.handler_id, b.updated_at = "confirmed", now, str(principal["user_id"]), now
    b.sequence = (b.sequence or 0) + 1
    _waive_rebooked(session, session.get(Instrument, b.instrument_id), b.starts_at, b.ends_at)
    _stop_clock(session, b, now)
    metrics.observe_after_commit(session, (now - b.created_at).total_seconds())
    event(session, "booking.approved", b.id, _event_data(b))
    return view(session, b, principal)


def reject(session: Session, principal: dict, booking_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    b = get_row(session, booking_id)
    require_institution_staff(principal, b.institution_id)
    if b.status != "requested":
        raise wrong_state("reject", b.status)
    b.status, b.decided_at, b.handler_id, b.updated_at = "rejected", now, str(principal["user_id"]), now
    b.sequence = (b.sequence or 0) + 1
    b.reason_code, b.reason = data["reason_code"], data["reason"]
    metrics.observe_after_commit(session, (now - b.created_at).total_seconds())
    _release(session, b, now)
    _stop_clock(session, b, now)
    event(session, "booking.rejected", b.id, _event_data(b))
    return view(session, b, principal)


def cancel(session: Session, principal: dict, booking_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    principal = require_caller(principal)
    now = now_or(now)
    b = get_row(session, booking_id)
    staff = is_operator(principal) or is_institution_staff(principal, b.institution_id)
    if not staff and str(principal["user_id"]) != b.user_id:
        raise not_found("booking")
    if data.get("fault") and not staff:
        raise Forbidden("Only the institution declares an instrument fault / 仅机构可申报仪器故障",
                        code="fault_by_institution_only")
    if b.status not in ("requested", "confirmed"):
        raise wrong_state("cancel", b.status)
    inst = session.get(Instrument, b.instrument_id)
    by = "fault" if data.get("fault") else ("institution" if staff and str(principal["user_id"]) != b.user_id
                                            else "user")
    late = now > b.starts_at - dt.timedelta(hours=inst.cancel_deadline_hours)
    rate = instruments.prices(session, inst).get(b.price_group, to_money(0))
    minutes = int((b.ends_at - b.starts_at).total_seconds() // 60)
    fee, why = fees.cancellation_fee(by, late and b.status == "confirmed", False, minutes, rate,
                                     inst.minimum_charge, inst.slot_minutes)
    if b.status == "requested":
        _stop_clock(session, b, now, cancel=True)
    b.status, b.cancelled_by, b.cancelled_at, b.updated_at = "cancelled", by, now, now
    b.sequence = (b.sequence or 0) + 1
    b.reason = data.get("reason") or None
    b.fee, b.fee_reason = fee, why
    _release(session, b, now)
    event(session, "booking.cancelled", b.id, _event_data(b))
    return view(session, b, principal)


def cancel_all_open(session: Session, inst: Instrument, reason: str) -> int:
    """The instrument left (withdrawn, institution deregistered): open bookings end, never charged."""
    now = now_or(None)
    count = 0
    for b in session.scalars(select(Booking).where(Booking.instrument_id == inst.id,
                                                   Booking.status.in_(("requested", "confirmed")))).all():
        if b.status == "requested":
            _stop_clock(session, b, now, cancel=True)
        b.status, b.cancelled_by, b.cancelled_at, b.reason = "cancelled", "institution", now, reason[:500]
        b.sequence = (b.sequence or 0) + 1
        b.fee, b.fee_reason = to_money(0), "not_charged_institution_or_fault"
        _release(session, b, now)
        event(session, "booking.cancelled", b.id, _event_data(b))
        count += 1
    return count


def check_in(session: Session, principal: dict, booking_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    principal = require_caller(principal)
    now = now_or(now)
    b = get_row(session, booking_id)
    staff = is_operator(principal) or is_institution_staff(principal, b.institution_id)
    if not staff:
        if str(principal["user_id"]) != b.user_id:
            raise not_found("booking")
        if not data.get("code") or not secrets.compare_digest(data["code"], b.checkin_code):
            raise ValidationFailed("Wrong check-in code / 签到码错误", errors={"code": ["wrong / 错误"]},
                                   code="checkin_code_wrong")
    if b.status != "confirmed":
        raise wrong_state("check in", b.status)
    if now < check_in_opens_at(b.starts_at) or now >= b.ends_at:
        raise wrong_state("check in (outside the check-in window)", b.status)
    b.status, b.checked_in_at, b.updated_at = "checked_in", now, now
    b.sequence = (b.sequence or 0) + 1
    if staff:
        b.handler_id = str(principal["user_id"])
    event(session, "booking.checked_in", b.id, _event_data(b))
    return view(session, b, principal)


def complete(session: Session, principal: dict, booking_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    b = get_row(session, booking_id)
    require_institution_staff(principal, b.institution_id)
    if b.status != "checked_in":
        raise wrong_state("complete", b.status)
    start, end = utc(data["actual_start"]), utc(data["actual_end"])
    if end > now + dt.timedelta(minutes=5):
        raise ValidationFailed("Actual use cannot end in the future / 实际结束时间不能晚于当前时间",
                               errors={"actual_end": ["in the future / 晚于当前时间"]})
    finish(session, b, start, end, str(principal["user_id"]), now)
    from .usage import record_completed
    record_completed(session, b, principal, now)
    return view(session, b, principal)


def finish(session: Session, b: Booking, start: dt.datetime, end: dt.datetime, handler_id: str,
           now: dt.datetime) -> None:
    """Completed with its actual use: the fee from the minutes used, booking.completed for feedback."""
    from .qualifications import renew_on_use
    inst = session.get(Instrument, b.instrument_id)
    used = int((end - start).total_seconds() // 60)
    rate = instruments.prices(session, inst)[b.price_group]
    b.actual_start, b.actual_end = start, end
    b.fee, b.fee_reason = fees.usage_fee(used, rate, inst.minimum_charge, inst.slot_minutes), "usage"
    b.status, b.updated_at = "completed", now
    b.sequence = (b.sequence or 0) + 1
    b.handler_id = b.handler_id or handler_id
    renew_on_use(session, b)
    event(session, "booking.completed", b.id, {
        **_event_data(b), "actual_start": iso(start), "actual_end": iso(end), "used_minutes": used,
        "evaluation": {"service_type": "booking", "service_id": b.id, "enterprise_id": b.user_id,
                       "institution_id": b.institution_id, "window_id": inst.station_window_id,
                       "handler_id": b.handler_id, "finished_at": iso(now)}})


def settle(session: Session, principal: dict, booking_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    b = get_row(session, booking_id)
    require_institution_staff(principal, b.institution_id)
    if b.settled_at is not None or not (b.status == "completed" or (b.status == "cancelled" and b.fee)):
        raise wrong_state("settle", b.status)
    if to_money(data["amount"]) != b.fee:
        raise ValidationFailed(f"The amount must be the fee {money_str(b.fee)} / 金额须等于应收费用 {money_str(b.fee)}",
                               errors={"amount": [f"expected {money_str(b.fee)} / 应为 {money_str(b.fee)}"]})
    b.payment_source, b.voucher_number = data["payment_source"], data.get("voucher_number")
    b.paid_amount, b.settled_at, b.updated_at = to_money(data["amount"]), now, now
    if b.status == "completed":
        b.status = "settled"
        b.sequence = (b.sequence or 0) + 1
    return view(session, b, principal)


# -- timers -------------------------------------------------------------------------------------
def expire_overdue_requests(session: Session, now: dt.datetime | None = None) -> int:
    now = now_or(now)
    count = 0
    for b in session.scalars(select(Booking).where(Booking.status == "requested",
                                                   Booking.approval_due_at <= now).with_for_update()).all():
        b.status, b.reason_code, b.updated_at = "expired", "approval_expired", now
        b.sequence = (b.sequence or 0) + 1
        b.reason = "审批超时，时段已释放 / Not approved in time: the slot is released"
        _release(session, b, now)
        _stop_clock(session, b, now)
        event(session, "booking.rejected", b.id, _event_data(b))
        count += 1
    return count


def mark_no_shows(session: Session, now: dt.datetime | None = None) -> int:
    now = now_or(now)
    count = 0
    for b in session.scalars(select(Booking).where(Booking.status == "confirmed", Booking.starts_at < now)
                             .with_for_update()).all():
        inst = session.get(Instrument, b.instrument_id)
        if now < b.starts_at + dt.timedelta(minutes=inst.no_show_minutes):
            continue
        b.status, b.updated_at = "no_show", now
        b.sequence = (b.sequence or 0) + 1
        _release(session, b, now)
        event(session, "booking.no_show", b.id, _event_data(b))
        record_no_show(session, b.user_id, "booking", b.id, now)
        count += 1
    return count


def record_no_show(session: Session, user_id: str, subject_type: str, subject_id: str, now: dt.datetime) -> None:
    p = policy()
    session.add(NoShow(user_id=user_id, subject_type=subject_type, subject_id=subject_id, at=now))
    session.flush()
    # An appeal granted by the operators (a lifted suspension) forgives the no-shows behind it:
    # otherwise the very next one would suspend the user again for 30 days.
    since = now - dt.timedelta(days=p["no_show_window_days"])
    forgiven = session.scalar(select(func.max(Suspension.lifted_at)).where(Suspension.user_id == user_id))
    if forgiven is not None and forgiven > since:
        since = forgiven
    recent = session.scalar(select(func.count()).select_from(NoShow).where(
        NoShow.user_id == user_id, NoShow.at > since))
    if recent >= p["no_show_limit"] and instruments.suspended_until(session, user_id, now) is None:
        session.add(Suspension(user_id=user_id, starts_at=now, until=now + dt.timedelta(days=p["suspension_days"]),
                               no_shows=recent))
        session.flush()


def open_clocks(session: Session, principal: dict, overdue=None, calendar_gap=None) -> list:
    if not is_reader(principal):
        raise Forbidden("Staff only / 仅限工作人员")
    rows = sla.list_clocks(session, rule=APPROVAL_RULE)
    views = [sla.clock_view(c) for c in rows if c.state in sla.OPEN_STATES]
    if overdue is not None:
        views = [v for v in views if v["overdue"] == overdue]
    if calendar_gap is not None:
        views = [v for v in views if v["calendar_gap"] == calendar_gap]
    return views


