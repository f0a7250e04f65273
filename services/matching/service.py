"""The matching service's RPC surface and its registry-event consumers.

    nameko run --config deploy/nameko.yaml services.matching.service

Window staff's window: the service asks identity (`get_user` on the caller's
own account, which any user may read; the caller's signed token travels in the
call's context data) whenever a visit is written or read. One RPC per visit request is
cheap, and a window re-assignment takes effect at once, with no cache to go stale.

Staff-filed demands (and visits) name an enterprise account; the service asks
identity whether it is an active enterprise (`_enterprise_lookup` over
identity's PII-free `account_kind`) before writing.

Creating writes take an `idempotency_key` and run through `run_idempotent` in the
same transaction as the write; the operation name carries the demand id, so one
key reused on another demand is a different request (409), not a replay.
"""
from __future__ import annotations

import logging
import threading

from nameko.rpc import RpcProxy
from nameko.timer import timer
from nameko.extensions import DependencyProvider
from prometheus_client import Counter

from services.common import config, sla
from services.common.collectors import register_service_collectors
from services.common.consumer import run_idempotent
from services.common.db import Database, engine_for
from services.common.errors import Forbidden, NotFound
from services.common.nameko_ext import (DatabaseProvider, MetricsServer, OutboxRelayProvider, idempotent_event_handler,
                                         rpc)

from . import demands, index, search, standards
from .schemas import (CloseDemand, DemandCreate, DemandListQuery, EngagementCreate, FollowUpCreate, LookupQuery,
                      PackageCreate, ProposalQuery, RecommendationCreate, ReferralCreate, ResponseCreate, SearchQuery,
                      SlaQuery, StandardPut, StandardQuery, VisitCreate, VisitListQuery, load)

log = logging.getLogger(__name__)
INDEX_EVENTS = Counter("qi_matching_index_events_total", "Registry events seen by the index", ["type", "outcome"])
SWEEP_SECONDS = sla.sweep_seconds()

# Lookups of clause 5 are presets of the search: a category and, where the
# clause names one, the qualification that makes an institution eligible.
LOOKUPS = {
    "metrology": {"category": "metrology", "qualification": "LEGAL_METROLOGY"},   # 5.2.1
    "labs": {"category": "testing"},                                               # 5.3.1
    "certification": {"category": "certification", "qualification": "CERT_BODY"},  # 5.4.1
}

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


class MatchingService:
    name = "matching"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    sla_metrics = SlaMetrics()
    identity = RpcProxy("identity", expiration=config.rpc_timeout())

    @rpc
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    # -- index consumers ----------------------------------------------------------
    def _apply(self, envelope):
        with self.db.transaction() as session:
            outcome = index.apply_registry_event(session, envelope)
        INDEX_EVENTS.labels(envelope.get("type", "?"), outcome).inc()

    @idempotent_event_handler("registry", "institution.approved")
    def on_institution_approved(self, envelope):
        self._apply(envelope)

    @idempotent_event_handler("registry", "institution.changed")
    def on_institution_changed(self, envelope):
        self._apply(envelope)

    @idempotent_event_handler("registry", "capability.published")
    def on_capability_published(self, envelope):
        self._apply(envelope)

    @idempotent_event_handler("registry", "institution.deregistered")
    def on_institution_deregistered(self, envelope):
        self._apply(envelope)

    # -- search and lookups -----------------------------------------------------------
    @rpc
    def search(self, params) -> dict:
        query = load(SearchQuery, params or {})
        with self.db.read() as session:
            return search.search(session, query)

    @rpc
    def lookup(self, kind, params) -> dict:
        preset = LOOKUPS.get(kind)
        if preset is None:
            raise NotFound(f"No lookup '{kind}' / 无此查询", code="no_such_lookup")
        query = load(LookupQuery, params or {})
        with self.db.read() as session:
            return {"lookup": kind, **search.search(session, {**query, **preset})}

    @rpc
    def get_institution(self, institution_id) -> dict:
        with self.db.read() as session:
            found = search.get_institution(session, str(institution_id))
        if found is None:
            raise NotFound("No such institution on the platform / 平台无此机构", code="institution_not_found")
        return found

    @rpc
    def standard_lookup(self, number) -> dict:
        data = load(StandardQuery, {"number": number})
        with self.db.transaction() as session:  # first use loads the shipped sample
            return standards.lookup(session, data["number"])

    @rpc
    def standard_put(self, principal, number, payload) -> dict:
        if not principal or principal.get("role") not in ("operator", "admin"):
            raise Forbidden("Only operators maintain the standards list / 仅运营人员可维护标准信息")
        data = load(StandardPut, payload)
        load(StandardQuery, {"number": number})
        with self.db.transaction() as session:
            return standards.upsert(session, principal, number, data)

    # -- demands ------------------------------------------------------------------------
    def _idempotent(self, session, principal, idempotency_key, operation, demand_id, payload, create):
        return run_idempotent(session, str((principal or {}).get("user_id")), idempotency_key,
                              f"{operation}:{demand_id}", {"demand_id": demand_id, "payload": payload}, create)

    def _enterprise_lookup(self, principal):
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

    @rpc
    def publish_demand(self, principal, payload, idempotency_key=None) -> dict:
        data = load(DemandCreate, payload)
        lookup = self._enterprise_lookup(principal)
        with self.db.transaction() as session:
            return run_idempotent(session, str((principal or {}).get("user_id")), idempotency_key,
                                  "matching.publish_demand", payload,
                                  lambda: demands.publish(session, principal, data, enterprise_lookup=lookup))

    @rpc
    def list_demands(self, principal, params=None) -> dict:
        query = load(DemandListQuery, params or {})
        with self.db.read() as session:
            return demands.list_demands(session, principal, **query)

    @rpc
    def get_demand(self, principal, demand_id) -> dict:
        with self.db.read() as session:
            return demands.get_demand(session, principal, demand_id)

    @rpc
    def respond(self, principal, demand_id, payload, idempotency_key=None) -> dict:
        data = load(ResponseCreate, payload)
        with self.db.transaction() as session:
            return self._idempotent(session, principal, idempotency_key, "matching.respond", demand_id, payload,
                                    lambda: demands.respond(session, principal, demand_id, data))

    @rpc
    def proposals(self, principal, demand_id, params=None) -> dict:
        query = load(ProposalQuery, params or {})
        with self.db.read() as session:
            return demands.proposals(session, principal, demand_id, limit=query["limit"])

    @rpc
    def recommend(self, principal, demand_id, payload, idempotency_key=None) -> dict:
        data = load(RecommendationCreate, payload)
        with self.db.transaction() as session:
            return self._idempotent(session, principal, idempotency_key, "matching.recommend", demand_id, payload,
                                    lambda: demands.recommend(session, principal, demand_id, data))

    @rpc
    def refer(self, principal, demand_id, payload, idempotency_key=None) -> dict:
        data = load(ReferralCreate, payload)
        with self.db.transaction() as session:
            return self._idempotent(session, principal, idempotency_key, "matching.refer", demand_id, payload,
                                    lambda: demands.refer(session, principal, demand_id, data))

    @rpc
    def engage(self, principal, demand_id, payload, idempotency_key=None) -> dict:
        data = load(EngagementCreate, payload)
        with self.db.transaction() as session:
            return run_idempotent(session, str((principal or {}).get("user_id")), idempotency_key,
                                  "matching.engage", {"demand_id": demand_id, **payload},
                                  lambda: demands.engage(session, principal, demand_id, data))

    @rpc
    def follow_up(self, principal, demand_id, payload, idempotency_key=None) -> dict:
        data = load(FollowUpCreate, payload)
        with self.db.transaction() as session:
            return self._idempotent(session, principal, idempotency_key, "matching.follow_up", demand_id, payload,
                                    lambda: demands.follow_up(session, principal, demand_id, data))

    @rpc
    def close_demand(self, principal, demand_id, payload, idempotency_key=None) -> dict:
        # Idempotent too: a retried close must replay its answer, not fail with demand_closed.
        data = load(CloseDemand, payload)
        with self.db.transaction() as session:
            return self._idempotent(session, principal, idempotency_key, "matching.close_demand", demand_id, payload,
                                    lambda: demands.close(session, principal, demand_id, data))

    @rpc
    def sla_demands(self, principal, params) -> dict:
        query = load(SlaQuery, params or {})
        with self.db.read() as session:
            return demands.sla_demands(session, principal, query.get("state"))

    @rpc
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        with self.db.read() as session:
            return demands.open_clocks(session, principal, overdue=overdue, calendar_gap=calendar_gap)

    # -- visits ----------------------------------------------------------------------------
    def _window_of(self, principal) -> str | None:
        if not principal or principal.get("role") != "window":
            return None
        return self.identity.get_user(principal["user_id"]).get("window_id")  # the caller's token travels along

    @rpc
    def log_visit(self, principal, payload, idempotency_key=None) -> dict:
        data = load(VisitCreate, payload)
        window_id = self._window_of(principal)
        lookup = self._enterprise_lookup(principal)
        with self.db.transaction() as session:
            return run_idempotent(session, str((principal or {}).get("user_id")), idempotency_key,
                                  "matching.log_visit", payload,
                                  lambda: demands.log_visit(session, principal, window_id, data,
                                                            enterprise_lookup=lookup))

    @rpc
    def list_visits(self, principal, params=None) -> dict:
        query = load(VisitListQuery, params or {})
        window_id = self._window_of(principal)
        with self.db.read() as session:
            return demands.list_visits(session, principal, window_id, limit=query["limit"])

    @rpc
    def get_visit(self, principal, visit_id) -> dict:
        window_id = self._window_of(principal)
        with self.db.read() as session:
            return demands.get_visit(session, principal, window_id, visit_id)

    # -- packages -----------------------------------------------------------------------------
    @rpc
    def package_groups(self, principal) -> dict:
        with self.db.read() as session:
            return demands.package_groups(session, principal)

    @rpc
    def create_package(self, principal, payload, idempotency_key=None) -> dict:
        data = load(PackageCreate, payload)
        with self.db.transaction() as session:
            return run_idempotent(session, str((principal or {}).get("user_id")), idempotency_key,
                                  "matching.create_package", payload,
                                  lambda: demands.create_package(session, principal, data))

    @rpc
    def get_package(self, principal, package_id) -> dict:
        with self.db.read() as session:
            return demands.get_package(session, principal, package_id)

    # -- SLA sweep ------------------------------------------------------------------------------
    @timer(interval=SWEEP_SECONDS)
    def sweep_sla(self):
        with self.db.transaction() as session:
            newly = sla.sweep_overdue(session)
        if newly:
            log.info("SLA sweep: %d demand clocks newly overdue", len(newly))
