"""Booking metrics: bookings and appointments by state and no-shows (read from the database at
scrape time, right however many instances run) and approval latency (observed after commit).
The approval SLA itself shows in qi_sla_open_clocks{rule="booking.approval"} and the SLA counters."""
from __future__ import annotations

import logging

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from .models import Appointment, Booking, NoShow

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
        try:
            with self.db.read() as session:
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
