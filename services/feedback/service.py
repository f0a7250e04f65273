"""The feedback service: every HTTP operation from its contract (services.common.pipeline),
the consumers of "finished service" events, and the timer that expires invitations.

    nameko run --config deploy/nameko.yaml services.feedback.service

Each finished-service event (demand.closed, case.closed, booking.completed,
appointment.completed, sample.report_delivered, complaint.closed) carries the
`evaluation` block; the handlers are idempotent twice over: by event id
(consumer.claim_event) and by (service_type, service_id) (one invitation per service).
"""
from __future__ import annotations

import logging
import threading

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter

from services.common import sla
from services.common.collectors import register_service_collectors
from services.common.consumer import handle_once
from services.common.db import Database, engine_for
from services.common.errors import Forbidden
from services.common.nameko_ext import (DatabaseProvider, MetricsServer, OutboxRelayProvider, rpc, subscribe)
from services.common.pipeline import expose
from services.common.platform import STAFF_READERS

from services.common import platform, sla_events

from . import complaints, escalations, evaluations, references, service_figures, statistics
from .contract import CONTRACT

log = logging.getLogger(__name__)
SWEEP_SECONDS = sla.sweep_seconds()
INVITATIONS = Counter("qi_feedback_invitations_total", "Finished-service events seen by feedback",
                      ["service_type", "outcome"])
EXPIRED = Counter("qi_feedback_evaluations_expired_total", "Invitations closed as not evaluated")

# Every finished service's event, by the consumer method that takes it (its name is the consumer's
# key, feedback.<method>, for the one invitation per service).
FINISHED = {"on_demand_closed": ("matching", "demand.closed"), "on_case_closed": ("registry", "case.closed"),
            "on_booking_completed": ("booking", "booking.completed"),
            "on_appointment_completed": ("booking", "appointment.completed"),
            "on_report_delivered": ("delivery", "sample.report_delivered"),
            "on_complaint_closed": ("feedback", "complaint.closed")}
INSTITUTION_NAMES = {"on_institution_approved": ("registry", "institution.approved"),
                     "on_institution_changed": ("registry", "institution.changed"),
                     "on_institution_deregistered": ("registry", "institution.deregistered")}
# Every service's SLA verdicts (feedback's own too: one path) for the on-time rates, and the
# instrument hours of completed bookings.
CLOCK_VERDICTS = {service_figures.consumer_of(source): (source, sla_events.TYPE) for source in platform.with_database()}
INSTRUMENT_USE = {"on_booking_used": ("booking", "booking.completed")}

_collector_lock = threading.Lock()
_collector_registered = False


class SlaMetrics(DependencyProvider):
    def setup(self):
        global _collector_registered
        with _collector_lock:
            if not _collector_registered:
                register_service_collectors(Database(engine_for(self.container.service_name)))
                _collector_registered = True


def invite_from(db, consumer: str, envelope: dict) -> str:
    """Apply one finished-service envelope: 'opened', 'exists', 'skipped' (no block) or 'duplicate'."""
    outcome = {"value": "duplicate"}

    def effect(session, env):
        block = (env.get("data") or {}).get("evaluation")
        if not block:
            outcome["value"] = "skipped"
            return
        opened = evaluations.open_invitation(session, block, event_id=env.get("id"))
        outcome["value"] = "opened" if opened is not None else "exists"

    handle_once(db, consumer, envelope, effect)
    block = (envelope.get("data") or {}).get("evaluation") or {}
    INVITATIONS.labels(block.get("service_type", "?"), outcome["value"]).inc()
    return outcome["value"]


class FeedbackService:
    name = "feedback"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    sla_metrics = SlaMetrics()

    @rpc
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    @rpc
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        if principal.get("role") not in STAFF_READERS:
            raise Forbidden("Staff only / 仅限工作人员")
        with self.db.read() as session:
            clocks = sla.list_clocks(session, state=sla.OPEN_STATES, overdue=overdue, calendar_gap=calendar_gap)
            return [sla.clock_view(c) for c in clocks if c.rule != evaluations.expiry_rule()]

    def _invite(self, handler: str, envelope):
        invite_from(self.db, f"feedback.{handler}", envelope)







    # -- institution names for the public statistics (registry's public events) ---------------
    def _name(self, handler: str, envelope):
        handle_once(self.db, f"feedback.{handler}", envelope, statistics.apply_institution_event)



    @timer(interval=SWEEP_SECONDS)
    def sweep(self):
        with self.db.transaction() as session:
            expired = evaluations.expire_due(session)
            escalated = complaints.escalate_due(session)
            escalations.rectifications_overdue(session, sla.sweep_overdue(session))
        if escalated:
            log.info("feedback sweep: %d complaints escalated", len(escalated))
        if expired:
            EXPIRED.inc(len(expired))
            log.info("feedback sweep: %d invitations closed as not evaluated", len(expired))


expose(FeedbackService, CONTRACT)
subscribe(FeedbackService, FINISHED, lambda service, name, envelope: service._invite(name, envelope))
subscribe(FeedbackService, INSTITUTION_NAMES, lambda service, name, envelope: service._name(name, envelope))
subscribe(FeedbackService, CLOCK_VERDICTS, lambda service, name, envelope: handle_once(
    service.db, f"feedback.{name}", envelope, service_figures.apply_clock_closed))
subscribe(FeedbackService, references.CONSUMERS, lambda service, name, envelope: handle_once(
    service.db, f"feedback.{name}", envelope, references.apply_reference_event))
subscribe(FeedbackService, INSTRUMENT_USE, lambda service, name, envelope: handle_once(
    service.db, f"feedback.{name}", envelope, service_figures.apply_booking_completed))
