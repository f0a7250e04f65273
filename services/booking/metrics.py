"""Booking metrics: bookings and appointments by state, no-shows, approvals against their rule
(decided within the booking.approval limit, late, or expired undecided) and the month's instrument
hours with utilisation (used against booked), all read from the database at scrape time (right
however many instances run), and approval latency (observed after commit). Open approval clocks
show in qi_sla_open_clocks{rule="booking.approval"} and the SLA counters."""
from __future__ import annotations

import datetime as dt
import logging

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from .models import Appointment, Booking, NoShow, UsageRecord

log = logging.getLogger(__name__)
APPROVAL_LATENCY = Histogram("qi_booking_approval_latency_seconds",
                             "From a booking request to its approval or rejection",
                             buckets=(600, 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 4 * 86400))
_KEY = "qi_booking_pending_latency"


def observe_after_commit(session: Session, seconds: float) -> None:
    session.info.setdefault(_KEY, []).append(seconds)


@event.listens_for(Session, "after_commit")
def _flush(session: Session) -> None:
    for seconds in session.info.pop(_KEY, ()):
        APPROVAL_LATENCY.observe(seconds)


@event.listens_for(Session, "after_transaction_end")
def _drop(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)


class BookingCollector:
    def __init__(self, database):
        self.db = database

    def collect(self):
        bookings = GaugeMetricFamily("qi_booking_bookings", "Bookings per state (read from the database)",
                                     labels=["state"])
        appointments = GaugeMetricFamily("qi_booking_appointments", "Window appointments per state",
                                         labels=["state"])
        no_shows = GaugeMetricFamily("qi_booking_no_shows", "No-shows recorded, per kind (bookings, appointments)",
                                     labels=["kind"])
        approvals = GaugeMetricFamily("qi_booking_approvals",
                                      "Requests needing approval by outcome against the booking.approval rule: "
                                      "within_rule, late, expired (never decided)", labels=["outcome"])
        minutes = GaugeMetricFamily("qi_booking_instrument_minutes",
                                    "Instrument minutes this month (Asia/Shanghai): booked, used (of bookings), "
                                    "walk_in (used without a booking)", labels=["kind"])
        utilisation = GaugeMetricFamily("qi_booking_utilisation_ratio",
                                        "This month's used minutes (bookings and walk-ins) over booked minutes")
        try:
            with self.db.read() as session:
                for outcome, n in _approvals(session):
                    approvals.add_metric([outcome], n)
                month = _month_minutes(session)
                for kind, n in month.items():
                    minutes.add_metric([kind], n)
                if month["booked"]:
                    utilisation.add_metric([], (month["used"] + month["walk_in"]) / month["booked"])
                for state, n in session.execute(select(Booking.status, func.count()).group_by(Booking.status)):
                    bookings.add_metric([state], n)
                for state, n in session.execute(select(Appointment.status, func.count())
                                                .group_by(Appointment.status)):
                    appointments.add_metric([state], n)
                for kind, n in session.execute(select(NoShow.subject_type, func.count())
                                               .group_by(NoShow.subject_type)):
                    no_shows.add_metric([kind], n)
        except Exception:  # a scrape must not fail because the database is briefly away
            log.warning("booking metrics: database unavailable", exc_info=True)
        yield bookings
        yield appointments
        yield no_shows
        yield approvals
        yield minutes
        yield utilisation


def _approvals(session: Session) -> list[tuple[str, int]]:
    needing = select(Booking).where(Booking.approval_due_at.is_not(None))
    expired = session.scalar(select(func.count()).select_from(needing.where(Booking.status == "expired").subquery()))
    decided = needing.where(Booking.decided_at.is_not(None))
    within = session.scalar(select(func.count()).select_from(
        decided.where(Booking.decided_at <= Booking.approval_due_at).subquery()))
    late = session.scalar(select(func.count()).select_from(
        decided.where(Booking.decided_at > Booking.approval_due_at).subquery()))
    return [("within_rule", within), ("late", late), ("expired", expired)]


def _month_minutes(session: Session, now: dt.datetime | None = None) -> dict:
    from . import rules as engine
    from .contract.vocabulary import OCCUPYING
    from .usage import month_span
    from . import common
    today = engine.local(now or common.clock())
    first, last = month_span(f"{today.year}-{today.month:02d}")
    booked = used = 0
    for b in session.scalars(select(Booking).where(Booking.starts_at >= first, Booking.starts_at < last,
                                                   Booking.status.in_(OCCUPYING + ("no_show",)))):
        booked += int((b.ends_at - b.starts_at).total_seconds() // 60)
        if b.actual_end and b.actual_start:
            used += int((b.actual_end - b.actual_start).total_seconds() // 60)
    walk_in = sum(int((r.stopped_at - r.started_at).total_seconds() // 60) for r in session.scalars(
        select(UsageRecord).where(UsageRecord.booking_id.is_(None), UsageRecord.stopped_at.is_not(None),
                                  UsageRecord.started_at >= first, UsageRecord.started_at < last)))
    return {"booked": booked, "used": used, "walk_in": walk_in}
