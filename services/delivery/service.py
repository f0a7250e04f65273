"""The delivery service: samples and custody, the report registry with public verification,
the metrology ledger.

    nameko run --config deploy/nameko.yaml services.delivery.service

Every HTTP operation is declared in `contract` and exposed by the shared pipeline
(`expose`); what is written here by hand is the wiring: the registry events that keep
the local institution copy (scope checks), the timers (SLA sweep, ledger reminders) and
the staff-only `list_open_clocks` the gateway composes into GET /sla/clocks.
"""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter

from services.common import config, sla
from services.common.collectors import register_service_collectors
from services.common.db import Database, engine_for
from services.common.direct_rpc import ServiceRpc
from services.common.nameko_ext import (DatabaseProvider, INSTITUTION_PROFILE_EVENTS, MetricsServer,
                                        OutboxRelayProvider, idempotent_event_handler, rpc, subscribe)
from services.common.pipeline import expose

from . import institutions, ledger, samples
from .contract import CONTRACT

log = logging.getLogger(__name__)
INSTITUTION_EVENTS = Counter("qi_delivery_institution_events_total", "Registry events seen by delivery",
                             ["type", "outcome"])
LEDGER_SWEEPS = Counter("qi_delivery_ledger_reminders_total", "Ledger reminders and suspensions", ["kind"])
SWEEP_SECONDS = sla.sweep_seconds()
LEDGER_SWEEP_SECONDS = float(config.env("QI_LEDGER_SWEEP_SECONDS", "3600"))


class SlaMetrics(DependencyProvider):
    """The scrape-time gauges (open SLA clocks of samples, parked events, calendar coverage), once per process."""

    def setup(self):
        register_service_collectors(Database(engine_for(self.container.service_name)))


class DeliveryService:
    name = "delivery"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    sla_metrics = SlaMetrics()
    matching = ServiceRpc("matching")

    def operation_dependencies(self) -> dict:
        def publish_demand(payload, key):
            # As the caller: its signed token travels in the context data (matching checks its level).
            return self.matching.publish_demand(payload, idempotency_key=key)
        return {"db": self.db, "publish_demand": publish_demand}

    @rpc
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    @rpc
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        with self.db.read() as session:
            return samples.open_clocks(session, principal, overdue=overdue, calendar_gap=calendar_gap)

    # -- the institutions' copy (registry events) ----------------------------------------------
    def _apply(self, envelope):
        with self.db.transaction() as session:
            outcome = institutions.apply_registry_event(session, envelope)
        INSTITUTION_EVENTS.labels(envelope.get("type", "?"), outcome).inc()





    @idempotent_event_handler("identity", "user.registered")
    def on_user_registered(self, envelope):
        with self.db.transaction() as session:
            outcome = institutions.apply_identity_event(session, envelope)
        INSTITUTION_EVENTS.labels(envelope.get("type", "?"), outcome).inc()

    # -- timers -----------------------------------------------------------------------------------
    @timer(interval=SWEEP_SECONDS)
    def sweep_sla(self):
        with self.db.transaction() as session:
            newly = sla.sweep_overdue(session)
        if newly:
            log.info("SLA sweep: %d sample clocks newly overdue", len(newly))

    @timer(interval=LEDGER_SWEEP_SECONDS)
    def sweep_ledger(self):
        with self.db.transaction() as session:
            done = ledger.sweep(session)
        LEDGER_SWEEPS.labels("reminded").inc(done["reminded"])
        LEDGER_SWEEPS.labels("suspended").inc(done["suspended"])


expose(DeliveryService, CONTRACT)
subscribe(DeliveryService, INSTITUTION_PROFILE_EVENTS, lambda service, _name, envelope: service._apply(envelope))
