"""Appointments at institution windows (clause 4.2.2.3).

A window publishes slots (30-60 minutes inside working hours, a capacity, the service
items it serves); an enterprise books one for a service item at least
`booking.appointment_notice` and at most `booking.appointment_horizon` working days
ahead (SLA rules in data), one active appointment per enterprise, window and day
(`appointment_day_claim`'s key), cancels up to 2 hours before; staff check it in and
complete it; a no-show counts with the booking no-shows. A slot offers only items its window
serves, and an appointment links only the enterprise's own open demand or case (links.py).
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import workdays
from services.common.errors import CalendarYearMissing, Conflict, Forbidden, ValidationFailed
from services.common.sla_rules import get_rule

from . import bookings, links
from . import rules as engine
from .common import event, iso, is_operator, is_reader, not_found, now_or, policy, require_caller, wrong_state
from .models import Appointment, AppointmentDayClaim, AppointmentSlot


def _window_of(principal: dict, window_id: str | None) -> str:
    if is_operator(principal):
        if not window_id:
            raise ValidationFailed("Name the window / 请指定窗口", errors={"window_id": ["required / 必填"]})
        return window_id
    if principal.get("role") == "window" and principal.get("window_id"):
        if window_id not in (None, principal["window_id"]):
            raise Forbidden("Window staff publish for their own window / 仅可为本窗口发布", code="not_your_window")
        return principal["window_id"]
    raise Forbidden("Only window staff or operators publish slots / 仅窗口人员或运营人员可发布",
                    code="not_window_staff")


def _require_window_staff(principal: dict, window_id: str) -> None:
    if not (is_operator(principal) or (principal.get("role") == "window"
                                       and principal.get("window_id") == window_id)):
        raise Forbidden("Only this window's staff / 仅本窗口人员可操作", code="not_your_window")


def slot_view(s: AppointmentSlot) -> dict:
    return {"id": s.id, "window_id": s.window_id, "starts_at": s.starts_at, "ends_at": s.ends_at,
            "capacity": s.capacity, "taken": s.taken, "free": s.capacity - s.taken,
            "service_items": json.loads(s.service_items)}


def publish_slots(session: Session, principal: dict, data: dict) -> list:
    principal = require_caller(principal)
    window_id = _window_of(principal, data.get("window_id"))
    links.check_slot_items(session, window_id, data["service_items"])
    day = data["date"]
    try:
        working = workdays.is_working_day(day)
    except CalendarYearMissing:
        working = False
    if not working:
        raise ValidationFailed("Slots are published on working days only / 仅可在工作日发布时段",
                               errors={"date": ["not a working day / 非工作日"]})
    open_min, close_min = (engine._minutes(x) for x in policy()["window_hours"])
    out = []
    for hhmm in sorted(set(data["times"])):
        m = engine._minutes(hhmm)
        if m < open_min or m + data["minutes"] > close_min:
            raise ValidationFailed("Slots lie inside working hours / 时段须在工作时间内",
                                   errors={"times": [f"{hhmm} outside {'-'.join(policy()['window_hours'])}"]})
        start = engine.to_utc(dt.datetime(day.year, day.month, day.day, tzinfo=engine.SHANGHAI)
                              + dt.timedelta(minutes=m))
        if session.scalars(select(AppointmentSlot).where(AppointmentSlot.window_id == window_id,
                                                         AppointmentSlot.starts_at == start)).first():
            raise Conflict(f"A slot at {hhmm} exists / {hhmm} 时段已存在", code="slot_exists")
        slot = AppointmentSlot(window_id=window_id, starts_at=start, ends_at=start + dt.timedelta(minutes=data["minutes"]),
                               capacity=data["capacity"], taken=0,
                               service_items=json.dumps(sorted(set(data["service_items"]))),
                               created_by=str(principal["user_id"]))
        session.add(slot)
        out.append(slot)
    session.flush()
    return [slot_view(s) for s in out]


def _day_start(day: dt.date) -> dt.datetime:
    """The start of a Beijing-time day as naive UTC: `from` / `to` name Shanghai days, not UTC ones."""
    return engine.to_utc(dt.datetime(day.year, day.month, day.day, tzinfo=engine.SHANGHAI))


def _in_days(stmt, column, query: dict):
    if query.get("from_"):
        stmt = stmt.where(column >= _day_start(query["from_"]))
    if query.get("to"):
        stmt = stmt.where(column < _day_start(query["to"] + dt.timedelta(days=1)))
    return stmt


def list_slots(session: Session, query: dict, now: dt.datetime | None = None) -> list:
    now = now_or(now)
    stmt = select(AppointmentSlot).where(AppointmentSlot.starts_at > now)
    if query.get("window_id"):
        stmt = stmt.where(AppointmentSlot.window_id == query["window_id"])
    stmt = _in_days(stmt, AppointmentSlot.starts_at, query)
    return [slot_view(s) for s in session.scalars(stmt.order_by(AppointmentSlot.starts_at).limit(500))]


def _lead_violations(day: dt.date, now: dt.datetime) -> list[engine.Violation]:
    today = engine.local(now).date()
    notice, horizon = get_rule("booking.appointment_notice"), get_rule("booking.appointment_horizon")
    try:
        earliest = workdays.add_working_days(today, notice.limit_working_days)
    except CalendarYearMissing:
        return [engine.violation("calendar.gap")]
    try:
        latest = workdays.add_working_days(today, horizon.limit_working_days)
    except CalendarYearMissing:
        latest = None      # the horizon reaches an uncovered year: no limit inside the covered ones
    out = []
    if day < earliest:
        out.append(engine.violation("notice.too_short", n=notice.limit_working_days))
    if latest is not None and day > latest:
        out.append(engine.violation("horizon.too_far", n=horizon.limit_working_days))
    return out


def _event_data(a: Appointment) -> dict:
    return {"appointment_id": a.id, "slot_id": a.slot_id, "window_id": a.window_id, "service_item": a.service_item,
            "starts_at": iso(a.starts_at), "status": a.status, "demand_id": a.demand_id, "case_id": a.case_id}


def book(session: Session, principal: dict, data: dict, now: dt.datetime | None = None) -> Appointment:
    principal = require_caller(principal)
    now = now_or(now)
    slot = session.get(AppointmentSlot, data["slot_id"])
    if slot is None:
        raise not_found("slot")
    if data["service_item"] not in json.loads(slot.service_items):
        raise ValidationFailed("The window does not serve this item in that slot / 该时段不办理此事项",
                               errors={"service_item": ["not offered / 未提供"]})
    links.check_links(session, str(principal["user_id"]), data)
    day = engine.local(slot.starts_at).date()
    found = _lead_violations(day, now)
    if found:
        from .common import refuse
        refuse(found)
    user_id = str(principal["user_id"])
    a = Appointment(slot_id=slot.id, window_id=slot.window_id, user_id=user_id, service_item=data["service_item"],
                    day=day, starts_at=slot.starts_at, ends_at=slot.ends_at, status="booked",
                    demand_id=data.get("demand_id"), case_id=data.get("case_id"), created_at=now)
    session.add(a)
    session.flush()
    taken = session.execute(update(AppointmentSlot).where(AppointmentSlot.id == slot.id,
                                                          AppointmentSlot.taken < AppointmentSlot.capacity)
                            .values(taken=AppointmentSlot.taken + 1))
    if taken.rowcount != 1:
        raise Conflict("The slot is full / 该时段已约满", code="appointment_full",
                       errors={"rules": [{"rule": "appointment.full", "message": "该时段已约满 / The slot is full"}]})
    session.add(AppointmentDayClaim(user_id=user_id, window_id=slot.window_id, day=day, appointment_id=a.id))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("One active appointment per window and day / 同一窗口每天仅可有一个有效预约",
                       code="appointment_one_per_day",
                       errors={"rules": [{"rule": "appointment.one_per_day",
                                          "message": "同一窗口每天仅可有一个有效预约 / One active appointment per "
                                                     "window and day"}]}) from None
    event(session, "appointment.booked", a.id, _event_data(a))
    return a


def _get(session: Session, appointment_id: str) -> Appointment:
    a = session.scalars(select(Appointment).where(Appointment.id == str(appointment_id)).with_for_update()).first()
    if a is None:
        raise not_found("appointment")
    return a


def _release(session: Session, a: Appointment) -> None:
    session.execute(update(AppointmentSlot).where(AppointmentSlot.id == a.slot_id, AppointmentSlot.taken > 0)
                    .values(taken=AppointmentSlot.taken - 1))
    session.execute(delete(AppointmentDayClaim).where(AppointmentDayClaim.appointment_id == a.id))


def cancel(session: Session, principal: dict, appointment_id: str, now: dt.datetime | None = None) -> Appointment:
    principal = require_caller(principal)
    now = now_or(now)
    a = _get(session, appointment_id)
    if a.user_id != str(principal["user_id"]) and not is_operator(principal):
        raise not_found("appointment")
    if a.status != "booked":
        raise wrong_state("cancel", a.status)
    if now > a.starts_at - dt.timedelta(hours=policy()["appointment_cancel_hours"]):
        raise Conflict("Appointments are cancelled up to 2 hours before / 须在开始前 2 小时取消",
                       code="appointment_too_late")
    a.status, a.cancelled_at = "cancelled", now
    _release(session, a)
    event(session, "appointment.cancelled", a.id, _event_data(a))
    return a


def check_in(session: Session, principal: dict, appointment_id: str, now: dt.datetime | None = None) -> Appointment:
    now = now_or(now)
    a = _get(session, appointment_id)
    _require_window_staff(principal, a.window_id)
    if a.status != "booked":
        raise wrong_state("check in", a.status)
    a.status, a.checked_in_at, a.handler_id = "checked_in", now, str(principal["user_id"])
    return a


def complete(session: Session, principal: dict, appointment_id: str, now: dt.datetime | None = None) -> Appointment:
    now = now_or(now)
    a = _get(session, appointment_id)
    _require_window_staff(principal, a.window_id)
    if a.status != "checked_in":
        raise wrong_state("complete", a.status)
    a.status, a.completed_at = "completed", now
    a.handler_id = a.handler_id or str(principal["user_id"])
    event(session, "appointment.completed", a.id, {
        **_event_data(a), "evaluation": {"service_type": "appointment", "service_id": a.id,
                                         "enterprise_id": a.user_id, "institution_id": None,
                                         "window_id": a.window_id, "handler_id": a.handler_id,
                                         "finished_at": iso(now)}})
    return a


def list_appointments(session: Session, principal: dict, query: dict) -> list:
    principal = require_caller(principal)
    stmt = select(Appointment)
    if principal.get("role") == "window":
        stmt = stmt.where(Appointment.window_id == principal.get("window_id"))
    elif not is_reader(principal):
        stmt = stmt.where(Appointment.user_id == str(principal["user_id"]))
    if query.get("window_id"):
        stmt = stmt.where(Appointment.window_id == query["window_id"])
    stmt = _in_days(stmt, Appointment.starts_at, query)
    # From a day on, the soonest first (a window's day ahead: today's are never cut by the limit);
    # otherwise the latest first (one's own history).
    order = Appointment.starts_at.asc() if query.get("from_") else Appointment.starts_at.desc()
    return session.scalars(stmt.order_by(order, Appointment.id).limit(query["limit"])).all()


def mark_no_shows(session: Session, now: dt.datetime | None = None) -> int:
    now = now_or(now)
    late = now - dt.timedelta(minutes=policy()["appointment_no_show_minutes"])
    count = 0
    for a in session.scalars(select(Appointment).where(Appointment.status == "booked", Appointment.starts_at < late)
                             .with_for_update()).all():
        a.status = "no_show"
        session.execute(delete(AppointmentDayClaim).where(AppointmentDayClaim.appointment_id == a.id))
        event(session, "appointment.no_show", a.id, _event_data(a))
        bookings.record_no_show(session, a.user_id, "appointment", a.id, now)
        count += 1
    return count
