"""The matching service: its contract's operations, registry and feedback consumers, the SLA sweep.

    nameko run --config deploy/nameko.yaml services.matching.service

Every HTTP operation is declared in services/matching/contract and exposed by the
shared pipeline (`expose` below): one RPC method per operation, the role checked
once, the input loaded once, the domain function run in a transaction (writes) and
its result dumped with the response schema. Written here by hand: ping, the staff
RPC listing open clocks for the gateway's GET /sla/clocks, event handlers, timers.

Window staff's window: the service asks identity (`get_user` on the caller's own
account, which any user may read; the caller's signed token travels in the call's
context data) whenever a visit is written or read. One RPC per visit request is
cheap, and a window re-assignment takes effect at once, with no cache to go stale.

Staff-filed demands (and visits) name an enterprise account; the service asks
identity whether it is an active enterprise (`_enterprise_lookup` over identity's
PII-free `account_kind`) before writing.
"""
from __future__ import annotations

import logging
import threading

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter

from services.common import config, sla
from services.common.collectors import register_service_collectors
from services.common.db import Database, engine_for
from services.common.errors import NotFound
from services.common.direct_rpc import ServiceRpc
from services.common.nameko_ext import (DatabaseProvider, INSTITUTION_PROFILE_EVENTS, MetricsServer,
                                        OutboxRelayProvider, idempotent_event_handler, rpc, subscribe)
from services.common.pipeline import expose

from . import clocks, index, ratings
from .group_commit import GroupCommit
from .contract import CONTRACT

log = logging.getLogger(__name__)
INDEX_EVENTS = Counter("qi_matching_index_events_total", "Registry events seen by the index", ["type", "outcome"])
RATING_EVENTS = Counter("qi_matching_rating_events_total", "Feedback ratings seen by the index", ["outcome"])
SWEEP_SECONDS = sla.sweep_seconds()

_collector_lock = threading.Lock()
_collector_registered = False


class SlaMetrics(DependencyProvider):
    """Registers the scrape-time gauges (SLA clocks, parked events, calendar coverage) once per process."""

    def setup(self):
        global _collector_registered
        with _collector_lock:
            if not _collector_registered:
                register_service_collectors(Database(engine_for(self.container.service_name)))
                _collector_registered = True


class IndexWriter(DependencyProvider):
    """The registry consumer's group commit (group_commit.py), on an engine of its own
    (like the relay: an extension held by another would be bound as its sub-extension)."""

    def setup(self):
        self.db = Database(engine_for(self.container.service_name))
        self.group = GroupCommit(self.db, index.apply_registry_event,
                                 max_batch=int(config.env("QI_INDEX_BATCH", "100")))

    def stop(self):
        self.db.engine.dispose()

    def get_dependency(self, worker_ctx):
        return self.group


class MatchingService:
    name = "matching"

    db = DatabaseProvider()
    index_writer = IndexWriter()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    sla_metrics = SlaMetrics()
    identity = ServiceRpc("identity")

    @rpc
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    # -- what the domain functions get besides the call (services.common.pipeline) -----------------
    def operation_dependencies(self) -> dict:
        return {"enterprise_lookup": self._enterprise_lookup(), "window_of": self._window_of}

    def _enterprise_lookup(self, principal=None):
        """demands.EnterpriseLookup over identity's account_kind, asked as the caller, memoised per request
        (a visit checks its enterprise once for the visit and once per collected demand).

        The domain calls it before its first write, so no row lock is held while identity answers.
        """
        seen: dict[str, object] = {}

        def lookup(user_id: str):
            if user_id not in seen:
                try:
                    seen[user_id] = self.identity.account_kind(user_id)  # as the caller: context data carries its token
                except NotFound:
                    seen[user_id] = None
            return seen[user_id]
        return lookup

    def _window_of(self, principal) -> str | None:
        if not principal or principal.get("role") != "window":
            return None
        return self.identity.get_user(principal["user_id"]).get("window_id")  # the caller's token travels along

    # -- the gateway's GET /sla/clocks (Contract.open_clocks) --------------------------------------
    @rpc
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        with self.db.read() as session:
            return clocks.open_clocks(session, principal, overdue=overdue, calendar_gap=calendar_gap)

    # -- index consumers ----------------------------------------------------------
    def _apply(self, envelope):
        outcome = self.index_writer.submit(envelope)  # committed with the other pending events
        INDEX_EVENTS.labels(envelope.get("type", "?"), outcome).inc()





    @idempotent_event_handler(ratings.SOURCE, ratings.RATED)
    def on_institution_rated(self, envelope):
        with self.db.transaction() as session:
            outcome = ratings.apply_rating_event(session, envelope)
        RATING_EVENTS.labels(outcome).inc()

    # -- SLA sweep ------------------------------------------------------------------------------
    @timer(interval=SWEEP_SECONDS)
    def sweep_sla(self):
        with self.db.transaction() as session:
            newly = sla.sweep_overdue(session)
        if newly:
            log.info("SLA sweep: %d demand clocks newly overdue", len(newly))


expose(MatchingService, CONTRACT)
subscribe(MatchingService, INSTITUTION_PROFILE_EVENTS, lambda service, _name, envelope: service._apply(envelope))
