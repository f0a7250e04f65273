"""Qualifications to use an instrument: granted by its staff, or by attending a registry training.

A training may name a qualification code (e.g. ``icpms-operation``); when the registry records
a participant's attendance it publishes ``training.attended`` and this consumer grants the
qualification on every published instrument requiring that code (idempotent: a redelivered
event is claimed once); the attendance is kept, so an instrument that starts requiring the code
later grants it too. Expiry is the instrument's rule in data: ``fixed_months`` after the
grant, or ``idle_days`` without use, a completed booking renewing it (`renew_on_use`). The rule
engine (rules.py) judges expiry, for a request and for the availability page alike.
"""
from __future__ import annotations

import calendar
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.consumer import claim_event

from . import instruments
from . import rules as engine
from .common import now_or, require_caller, require_institution_staff
from .models import Booking, Instrument, KnownAttendance, UserQualification

CONSUMER = "booking.qualifications"


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day `months` later (the month's last day when it is shorter)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def grants_of(session: Session, user_id: str, instrument_id: str) -> list[engine.Grant]:
    return [engine.Grant(r.created_at, r.expires_at, r.last_used_at) for r in session.scalars(
        select(UserQualification).where(UserQualification.user_id == user_id,
                                        UserQualification.instrument_id == instrument_id))]


def view(inst: Instrument, row: UserQualification, now: dt.datetime) -> dict:
    rules = instruments.rules_of(inst)
    grant = engine.Grant(row.created_at, row.expires_at, row.last_used_at)
    expiry = engine.grant_expiry(rules, grant)
    return {"id": row.id, "user_id": row.user_id, "instrument_id": row.instrument_id, "expires_at": row.expires_at,
            "source": row.source, "training_id": row.training_id, "created_at": row.created_at,
            "last_used_at": row.last_used_at, "effective_expires_at": expiry,
            "state": "valid" if now < expiry else "expired"}


def _grant(session: Session, inst: Instrument, user_id: str, granted_by: str, months: int, at: dt.datetime,
           source: str, training_id: str | None = None) -> UserQualification:
    row = UserQualification(user_id=user_id, instrument_id=inst.id, granted_by=granted_by,
                            expires_at=add_months(at, months), created_at=at, source=source, training_id=training_id)
    session.add(row)
    session.flush()
    return row


def grant(session: Session, principal: dict, instrument_id: str, data: dict, now: dt.datetime | None = None) -> dict:
    """Staff grant (the operator-assisted fallback stays: an unqualified user books assisted use)."""
    inst = instruments.get_row(session, instrument_id)
    require_institution_staff(principal, inst.institution_id)
    now = now_or(now)
    row = _grant(session, inst, data["user_id"], str(principal["user_id"]),
                 data.get("months") or inst.qualification_months, now, "staff")
    return view(inst, row, now)


def mine(session: Session, principal: dict, now: dt.datetime | None = None) -> list:
    principal = require_caller(principal)
    now = now_or(now)
    out = []
    for row in session.scalars(select(UserQualification).where(UserQualification.user_id == str(principal["user_id"]))
                               .order_by(UserQualification.created_at.desc()).limit(200)):
        inst = session.get(Instrument, row.instrument_id)
        if inst is not None:
            out.append(view(inst, row, now))
    return out


def apply_training_attended(session: Session, envelope: dict) -> str:
    """Grant the attended training's qualification on every instrument requiring its code."""
    if envelope.get("type") != "training.attended":
        return "ignored"
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    data = envelope.get("data") or {}
    code, user_id = data.get("qualification_code"), str(data.get("user_id") or "")
    if not code or not user_id:
        return "no_qualification"
    row = session.get(KnownAttendance, (user_id, str(data["training_id"])))
    if row is None:
        row = KnownAttendance(user_id=user_id, training_id=str(data["training_id"]), qualification_code=code,
                              attended_on=dt.date.fromisoformat(data["attended_on"]))
        session.add(row)
        session.flush()
    count = 0
    for inst in session.scalars(select(Instrument).where(Instrument.qualification_code == code,
                                                         Instrument.status == "published")).all():
        count += _grant_attendance(session, inst, row)
    return f"granted:{count}"


def grant_from_attendances(session: Session, inst: Instrument) -> int:
    """An instrument (newly) requiring a code: everyone who attended a training naming it is granted."""
    if not inst.qualification_code:
        return 0
    return sum(_grant_attendance(session, inst, row) for row in session.scalars(
        select(KnownAttendance).where(KnownAttendance.qualification_code == inst.qualification_code)).all())


def _grant_attendance(session: Session, inst: Instrument, attendance: KnownAttendance) -> int:
    if session.scalars(select(UserQualification).where(
            UserQualification.user_id == attendance.user_id, UserQualification.instrument_id == inst.id,
            UserQualification.training_id == attendance.training_id)).first() is not None:
        return 0
    day = attendance.attended_on
    # The grant runs from the local day of the training (midnight Shanghai, stored as UTC).
    at = engine.to_utc(dt.datetime(day.year, day.month, day.day, tzinfo=engine.SHANGHAI))
    _grant(session, inst, attendance.user_id, "training", inst.qualification_months, at, "training",
           attendance.training_id)
    return 1


def renew_on_use(session: Session, b: Booking) -> None:
    """A completed self-use booking renews the user's qualifications on the instrument (idle-days rule)."""
    if b.mode != "self" or b.actual_end is None:
        return
    for row in session.scalars(select(UserQualification).where(UserQualification.user_id == b.user_id,
                                                                UserQualification.instrument_id == b.instrument_id)):
        if row.last_used_at is None or row.last_used_at < b.actual_end:
            row.last_used_at = b.actual_end
