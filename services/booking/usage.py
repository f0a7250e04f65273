"""Actual use of instruments as institutions record it (start, stop), reconciled with bookings.

On a booking: starting use checks a confirmed booking in; stopping completes it from the stop
time, so the fee follows actual use (bookings.finish, the same booking.completed payload).
Walk-in use started by staff on an instrument is linked to the booking covering that time when
there is one; otherwise it is recorded `unbooked` and flagged for reconciliation. One use runs on
an instrument at a time. Instrument hours (机时) per month: instruments.usage.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import Conflict, NotFound, ValidationFailed

from . import bookings, instruments
from . import rules as engine
from .common import check_in_lead, check_in_opens_at, event, now_or, require_institution_staff, utc, wrong_state
from .models import Booking, UsageRecord

SLACK = dt.timedelta(minutes=5)   # a terminal's clock a little ahead is not "the future"


def view(r: UsageRecord) -> dict:
    used = int((r.stopped_at - r.started_at).total_seconds() // 60) if r.stopped_at else None
    return {"id": r.id, "instrument_id": r.instrument_id, "booking_id": r.booking_id, "user_id": r.user_id,
            "reconciliation": "booking" if r.booking_id else "unbooked", "started_at": r.started_at,
            "stopped_at": r.stopped_at, "used_minutes": used, "note": r.note}


def _moment(data: dict, now: dt.datetime, field: str = "at") -> dt.datetime:
    at = utc(data[field]) if data.get(field) else now
    if at > now + SLACK:
        raise ValidationFailed("Use cannot be recorded in the future / 不能登记未来的使用时间",
                               errors={field: ["in the future / 晚于当前时间"]})
    return at.replace(second=0, microsecond=0)


def _running(session: Session, instrument_id: str) -> UsageRecord | None:
    return session.scalars(select(UsageRecord).where(UsageRecord.instrument_id == instrument_id,
                                                     UsageRecord.stopped_at.is_(None))).first()


def _require_idle(session: Session, instrument_id: str) -> None:
    if _running(session, instrument_id) is not None:
        raise Conflict("The instrument is in use: stop the running use first / 仪器正在使用中，请先结束当前使用",
                       code="instrument_in_use")


def _start_on(session: Session, principal: dict, b: Booking, at: dt.datetime, now: dt.datetime,
              note: str = "") -> UsageRecord:
    if b.status not in ("confirmed", "checked_in"):
        raise wrong_state("start use of", b.status)
    if session.scalars(select(UsageRecord).where(UsageRecord.booking_id == b.id)).first() is not None:
        raise Conflict("Use of this booking is already recorded / 该预约的使用已登记", code="usage_already_started")
    if at < check_in_opens_at(b.starts_at) or at >= b.ends_at:
        raise ValidationFailed("Use must start within the booking's time / 须在预约时段内开始使用",
                               errors={"at": ["outside the booking / 不在预约时段内"]}, code="usage_outside_booking")
    _require_idle(session, b.instrument_id)
    if b.status == "confirmed":
        b.status, b.checked_in_at = "checked_in", at
        b.handler_id = str(principal["user_id"])
        b.sequence = (b.sequence or 0) + 1
        event(session, "booking.checked_in", b.id, bookings._event_data(b))
    b.updated_at = now
    row = UsageRecord(instrument_id=b.instrument_id, institution_id=b.institution_id, booking_id=b.id,
                      user_id=b.user_id, started_at=at, started_by=str(principal["user_id"]), note=note, created_at=now)
    session.add(row)
    session.flush()
    return row


def _stop(session: Session, principal: dict, row: UsageRecord, at: dt.datetime, now: dt.datetime) -> UsageRecord:
    if row.stopped_at is not None:
        raise Conflict("This use is already stopped / 该使用已结束", code="usage_stopped")
    if at <= row.started_at:
        raise ValidationFailed("Use stops after it starts / 结束时间须晚于开始时间",
                               errors={"at": ["not after the start / 不晚于开始时间"]})
    row.stopped_at, row.stopped_by = at, str(principal["user_id"])
    if row.booking_id:
        b = bookings.get_row(session, row.booking_id)
        if b.status == "checked_in":
            bookings.finish(session, b, row.started_at, at, str(principal["user_id"]), now)
    session.flush()
    return row


def start_booking_usage(session: Session, principal: dict, booking_id: str, data: dict,
                        now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    b = bookings.get_row(session, booking_id)
    require_institution_staff(principal, b.institution_id)
    return view(_start_on(session, principal, b, _moment(data, now), now))


def stop_booking_usage(session: Session, principal: dict, booking_id: str, data: dict,
                       now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    b = bookings.get_row(session, booking_id)
    require_institution_staff(principal, b.institution_id)
    row = session.scalars(select(UsageRecord).where(UsageRecord.booking_id == b.id).with_for_update()).first()
    if row is None:
        raise Conflict("No use of this booking was started / 该预约尚未开始使用", code="usage_not_started")
    return view(_stop(session, principal, row, _moment(data, now), now))


def start_walk_in(session: Session, principal: dict, instrument_id: str, data: dict,
                  now: dt.datetime | None = None) -> dict:
    """Staff start use on an instrument: the booking covering the time if any, else flagged unbooked."""
    now = now_or(now)
    inst = instruments.get_row(session, instrument_id, for_update=True)
    require_institution_staff(principal, inst.institution_id)
    if inst.status != "published":
        raise Conflict("The instrument is withdrawn / 仪器已下架", code="instrument_withdrawn")
    at = _moment(data, now)
    _require_idle(session, inst.id)
    opens = check_in_lead()
    covering = [b for b in session.scalars(select(Booking).where(
        Booking.instrument_id == inst.id, Booking.status.in_(("confirmed", "checked_in")),
        Booking.starts_at <= at + opens, Booking.ends_at > at)).all()
        if not data.get("user_id") or b.user_id == data["user_id"]]
    if covering:
        return view(_start_on(session, principal, covering[0], at, now, data.get("note", "")))
    row = UsageRecord(instrument_id=inst.id, institution_id=inst.institution_id, booking_id=None,
                      user_id=data.get("user_id"), started_at=at, started_by=str(principal["user_id"]),
                      note=data.get("note", ""), created_at=now)
    session.add(row)
    session.flush()
    return view(row)


def stop_record(session: Session, principal: dict, record_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    now = now_or(now)
    row = session.scalars(select(UsageRecord).where(UsageRecord.id == str(record_id)).with_for_update()).first()
    if row is None:
        raise NotFound("No such usage record / 使用记录不存在", code="usage_record_not_found")
    require_institution_staff(principal, row.institution_id)
    return view(_stop(session, principal, row, _moment(data, now), now))


def record_completed(session: Session, b: Booking, principal: dict, now: dt.datetime) -> None:
    """A booking completed by hand (actual times typed in) has its usage record too."""
    row = session.scalars(select(UsageRecord).where(UsageRecord.booking_id == b.id)).first()
    if row is None:
        session.add(UsageRecord(instrument_id=b.instrument_id, institution_id=b.institution_id, booking_id=b.id,
                                user_id=b.user_id, started_at=b.actual_start, stopped_at=b.actual_end,
                                started_by=str(principal["user_id"]), stopped_by=str(principal["user_id"]),
                                created_at=now))
    elif row.stopped_at is None:
        row.started_at, row.stopped_at, row.stopped_by = b.actual_start, b.actual_end, str(principal["user_id"])


def month_span(month: str) -> tuple[dt.datetime, dt.datetime]:
    year, mon = (int(x) for x in month.split("-"))
    first = engine.to_utc(dt.datetime(year, mon, 1, tzinfo=engine.SHANGHAI))
    last = engine.to_utc(dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=engine.SHANGHAI))
    return first, last


def list_records(session: Session, principal: dict, instrument_id: str, query: dict) -> list:
    inst = instruments.get_row(session, instrument_id)
    require_institution_staff(principal, inst.institution_id)
    stmt = select(UsageRecord).where(UsageRecord.instrument_id == inst.id)
    if query.get("month"):
        first, last = month_span(query["month"])
        stmt = stmt.where(UsageRecord.started_at >= first, UsageRecord.started_at < last)
    if query.get("unbooked") is not None:
        unbooked = UsageRecord.booking_id.is_(None)
        stmt = stmt.where(unbooked if query["unbooked"] else ~unbooked)
    return [view(r) for r in session.scalars(stmt.order_by(UsageRecord.started_at.desc()).limit(query["limit"]))]


def walk_in_minutes(session: Session, instrument_id: str, first: dt.datetime, last: dt.datetime) -> tuple[int, int]:
    """(minutes, records) of stopped use without a booking in [first, last)."""
    rows = session.scalars(select(UsageRecord).where(UsageRecord.instrument_id == instrument_id,
                                                     UsageRecord.booking_id.is_(None),
                                                     UsageRecord.stopped_at.is_not(None),
                                                     UsageRecord.started_at >= first,
                                                     UsageRecord.started_at < last)).all()
    return sum(int((r.stopped_at - r.started_at).total_seconds() // 60) for r in rows), len(rows)
