"""What the quarterly statistics count from other services' events: SLA verdicts and instrument hours.

On-time rate (7.1.1 efficiency, 7.1.3 "from the clocks of every service"): every service
records `sla.clock_closed` (services.common.sla_events) when one of its clocks gets its
verdict; feedback keeps a copy per clock (`clock_verdict`; its own clocks arrive the same
way, over the bus, so there is one path) and counts, per SLA rule, the verdicts whose
clock stopped in the quarter: met / (met + breached). A clock attributed to an
institution or window (the call site that started or stopped it knew it) counts for
it as well as for the platform.

Instrument hours: `booking.completed` carries the booked slot (starts_at, ends_at) and
the minutes actually used; a quarter counts the bookings whose slot started in it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ClockVerdict, InstrumentUse

# The customer's answer window, not a service limit: never an on-time figure.
EXCLUDED_RULES = ("feedback.evaluation_window",)
VERDICTS = ("met", "breached")


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


# -- sla.clock_closed --------------------------------------------------------------------------
def consumer_of(source: str) -> str:
    """The consumer method (and processed-event key feedback.<method>) taking `source`'s verdicts."""
    return f"on_{source}_clock_closed"


def take_own_recorded(db) -> int:
    """Apply the verdicts feedback itself recorded and has not yet received, as its consumer would
    (same consumer key, so the bus's later delivery of the same events is skipped). For the demo
    loader, which publishes a quarter before any service runs; returns how many it applied."""
    import json

    from services.common.consumer import handle_once
    from services.common.outbox import OutboxEvent
    from services.common.sla_events import TYPE
    with db.read() as session:
        bodies = list(session.scalars(select(OutboxEvent.body).where(OutboxEvent.type == TYPE,
                                                                     OutboxEvent.source == "feedback")
                                      .order_by(OutboxEvent.seq)))
    from services.common.errors import Conflict
    taken = 0
    for body in bodies:
        try:
            taken += handle_once(db, f"feedback.{consumer_of('feedback')}", json.loads(body), apply_clock_closed)
        except Conflict:
            pass   # the running service's consumer took this one at the same moment: applied once
    return taken


def apply_clock_closed(session: Session, envelope: dict) -> bool:
    """Keep one clock's latest verdict (a calendar notice may re-judge it later)."""
    data = envelope.get("data") or {}
    if data.get("outcome") not in VERDICTS or not data.get("clock_id") or not data.get("stopped_at"):
        raise ValueError("sla.clock_closed without clock_id, stopped_at or a met/breached outcome")
    judged = _time(data.get("judged_at")) or _time(data["stopped_at"])
    row = session.get(ClockVerdict, str(data["clock_id"]), with_for_update=True)
    if row is not None and row.judged_at > judged:
        return False   # an older verdict arriving late
    if row is None:
        row = ClockVerdict(clock_id=str(data["clock_id"]))
        session.add(row)
    row.source = str(envelope.get("source") or data["rule"].split(".", 1)[0])[:20]
    row.rule, row.subject_type, row.subject_id = data["rule"], data["subject_type"], str(data["subject_id"])
    row.outcome = data["outcome"]
    row.started_at, row.due_at = _time(data["started_at"]), _time(data.get("due_at"))
    row.stopped_at, row.judged_at = _time(data["stopped_at"]), judged
    row.limit_working_days = data.get("limit_working_days")
    row.institution_id, row.window_id = data.get("institution_id"), data.get("window_id")
    session.flush()
    return True


def verdicts_in(session: Session, start: dt.datetime, end: dt.datetime) -> list[ClockVerdict]:
    return [v for v in session.scalars(select(ClockVerdict).where(ClockVerdict.stopped_at >= start,
                                                                  ClockVerdict.stopped_at < end))
            if v.rule not in EXCLUDED_RULES]


def on_time_rows(verdicts: list[ClockVerdict]) -> list[dict]:
    """Per SLA rule: met, breached and the on-time rate, sorted by rule."""
    counts: dict[str, dict] = {}
    for v in verdicts:
        entry = counts.setdefault(v.rule, {"rule": v.rule, "met": 0, "breached": 0})
        entry["met" if v.outcome == "met" else "breached"] += 1
    for entry in counts.values():
        entry["on_time_rate"] = _rate(entry["met"], entry["met"] + entry["breached"])
    return sorted(counts.values(), key=lambda e: e["rule"])


def overall_on_time(rows: list[dict]) -> float | None:
    met = sum(r["met"] for r in rows)
    return _rate(met, met + sum(r["breached"] for r in rows))


# -- booking.completed -------------------------------------------------------------------------
def apply_booking_completed(session: Session, envelope: dict) -> bool:
    """Keep a completed booking's booked slot and used minutes (a redelivery changes nothing)."""
    data = envelope.get("data") or {}
    booking_id = data.get("booking_id")
    starts, ends = _time(data.get("starts_at")), _time(data.get("ends_at"))
    if not booking_id or starts is None or ends is None or not data.get("institution_id"):
        raise ValueError("booking.completed without booking_id, institution_id, starts_at or ends_at")
    if session.get(InstrumentUse, str(booking_id)) is not None:
        return False
    session.add(InstrumentUse(booking_id=str(booking_id), instrument_id=str(data.get("instrument_id") or ""),
                              institution_id=str(data["institution_id"]), starts_at=starts, ends_at=ends,
                              booked_minutes=max(0, int((ends - starts).total_seconds() // 60)),
                              used_minutes=max(0, int(data.get("used_minutes") or 0))))
    session.flush()
    return True


def hours_of(uses: list[InstrumentUse]) -> dict:
    booked = sum(u.booked_minutes for u in uses)
    used = sum(u.used_minutes for u in uses)
    return {"bookings": len(uses), "instruments": len({u.instrument_id for u in uses}),
            "booked_hours": round(booked / 60, 2), "used_hours": round(used / 60, 2),
            "use_rate": _rate(used, booked)}


def instrument_hours(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    """Booked vs used hours of the bookings whose slot started in the quarter: platform and per institution."""
    uses = list(session.scalars(select(InstrumentUse).where(InstrumentUse.starts_at >= start,
                                                            InstrumentUse.starts_at < end)))
    by_institution = {}
    for inst in sorted({u.institution_id for u in uses}):
        by_institution[inst] = hours_of([u for u in uses if u.institution_id == inst])
    return {"platform": hours_of(uses), "institutions": by_institution}
