"""The booking service: shared instruments, bookings and window appointments.

    nameko run --config deploy/nameko.yaml services.booking.service

Every HTTP operation comes from the contract (services/booking/contract) through the
shared pipeline (`expose`); the rest are the registry-event consumers keeping the local
copy of institutions, the sweeps (approval expiry, no-shows) and the SLA clock listing.
"""
from __future__ import annotations

import logging
import threading

from nameko.timer import timer
from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter

from services.common import sla
from services.common.collectors import register_service_collectors
from services.common.db import Database, engine_for
from services.common.nameko_ext import (DatabaseProvider, INSTITUTION_PROFILE_EVENTS, MetricsServer,
                                        OutboxRelayProvider, rpc, subscribe)
from services.common.pipeline import expose

from . import appointments, bookings, institutions, links, qualifications, waitlist
from .contract import CONTRACT
from .metrics import BookingCollector

log = logging.getLogger(__name__)
REGISTRY_EVENTS = Counter("qi_booking_registry_events_total", "Registry events applied", ["type", "outcome"])
SWEEP_SECONDS = min(60.0, sla.sweep_seconds())
_lock = threading.Lock()
_registered = False


class Collectors(DependencyProvider):
    def setup(self):
        global _registered
        with _lock:
            if not _registered:
                db = Database(engine_for(self.container.service_name))
                register_service_collectors(db)
                REGISTRY.register(BookingCollector(db))
                _registered = True


class BookingService:
    name = "booking"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    collectors = Collectors()

    @rpc
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    @rpc
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        with self.db.read() as session:
            return bookings.open_clocks(session, principal, overdue=overdue, calendar_gap=calendar_gap)

    # -- the registry's institutions -------------------------------------------------------------
    def _apply(self, envelope):
        with self.db.transaction() as session:
            outcome = institutions.apply_registry_event(session, envelope)
        REGISTRY_EVENTS.labels(envelope.get("type", "?"), outcome.split(":")[0]).inc()

    def _apply_link(self, envelope):
        with self.db.transaction() as session:
            outcome = links.apply_event(session, envelope)
        REGISTRY_EVENTS.labels(envelope.get("type", "?"), outcome.split(":")[0]).inc()

    def _apply_training(self, envelope):
        with self.db.transaction() as session:
            outcome = qualifications.apply_training_attended(session, envelope)
        REGISTRY_EVENTS.labels(envelope.get("type", "?"), outcome.split(":")[0]).inc()

    # -- sweeps --------------------------------------------------------------------------------------
    @timer(interval=SWEEP_SECONDS)
    def sweep(self):
        with self.db.transaction() as session:
            expired = bookings.expire_overdue_requests(session)
        with self.db.transaction() as session:
            no_shows = bookings.mark_no_shows(session) + appointments.mark_no_shows(session)
        with self.db.transaction() as session:
            waitlist.lapse_offers(session)
        with self.db.transaction() as session:
            sla.sweep_overdue(session)
        if expired or no_shows:
            log.info("booking sweep: %d requests expired, %d no-shows", expired, no_shows)


expose(BookingService, CONTRACT)
# Booking needs who owns instruments, not what they offer: capability.published is not taken.
subscribe(BookingService, {k: v for k, v in INSTITUTION_PROFILE_EVENTS.items() if k != "on_capability_published"},
          lambda service, _name, envelope: service._apply(envelope))
# Attendance at a registry training grants the instrument qualifications its code names.
subscribe(BookingService, {"on_training_attended": ("registry", "training.attended")},
          lambda service, _name, envelope: service._apply_training(envelope))
# Local copies of the demands and cases appointments link to, and of windows' service items (links.py
# says why copies and not RPCs).
subscribe(BookingService, links.EVENTS, lambda service, _name, envelope: service._apply_link(envelope))
