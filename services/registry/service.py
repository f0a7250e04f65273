"""The registry service: every HTTP operation of its contract, through the shared pipeline.

`expose(RegistryService, CONTRACT)` adds one RPC entrypoint per operation of
services/registry/contract (role checked once, input loaded once, transaction,
Idempotency-Key, domain function, response dumped). Written here by hand only
what is no HTTP operation: ping, the profile pages of matching's index rebuild
(`institution_profiles`), the open-clocks RPC the gateway's GET
/sla/clocks composes, identity's `user.registered` (the accounts' public
nicknames, accounts.py) and the timers.

    nameko run --config deploy/nameko.yaml services.registry.service
"""
from __future__ import annotations

import logging

from nameko.timer import timer
from prometheus_client import Counter

from services.common import sla
from services.common.collectors import register_service_collectors
from services.common.nameko_ext import (DatabaseProvider, MetricsServer, OutboxRelayProvider,
                                        idempotent_event_handler, rpc)
from services.common.pipeline import expose

from . import accounts, clocks, files, profiles_feed
from .contract import CONTRACT
from .sweep import sweep as sweep_registry

log = logging.getLogger(__name__)
SWEEP_SECONDS = sla.sweep_seconds()
FILES_GC_SECONDS = 3600
_collector_registered = []
ACCOUNT_EVENTS = Counter("qi_registry_account_events_total", "Identity events seen by the registry",
                         ["type", "outcome"])


class RegistryService:
    name = "registry"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()

    def _collector(self):
        # The open-clocks gauge reads the database at scrape time; register once per process.
        if not _collector_registered:
            register_service_collectors(self.db)
            _collector_registered.append(True)

    @rpc
    def ping(self) -> dict:
        self._collector()
        return {"service": self.name, "ok": True}

    @idempotent_event_handler("identity", "user.registered")
    def on_user_registered(self, envelope):
        """Keep the account's id, role and public nickname (a training's participants are named by it)."""
        with self.db.transaction() as session:
            outcome = accounts.apply_identity_event(session, envelope)
        ACCOUNT_EVENTS.labels(envelope.get("type", "?"), outcome).inc()

    @timer(interval=SWEEP_SECONDS)
    def sweep(self) -> dict:
        self._collector()
        with self.db.transaction() as session:
            result = sweep_registry(session)
        if any(result.values()):
            log.info("registry sweep: %s", result)
        return result

    @timer(interval=FILES_GC_SECONDS)
    def files_gc(self) -> dict:
        with self.db.read() as session:
            result = files.gc(session)
        if any(result.values()):
            log.info("registry files gc: %s", result)
        return result

    @rpc
    def list_review_clocks(self, principal, state=None, overdue=None, calendar_gap=None) -> list:
        """Open review clocks (staff): CONTRACT.open_clocks, composed by the gateway's GET /sla/clocks."""
        with self.db.read() as session:
            return clocks.open_clocks(session, principal, state=state, overdue=overdue, calendar_gap=calendar_gap)

    @rpc
    def institution_profiles(self, after=None, limit=500) -> dict:
        """Every institution's public profile (as the profile events carry it), a page after `after`:
        what matching's index rebuild reads (services/registry/profiles_feed.py)."""
        with self.db.read() as session:
            return profiles_feed.profiles_page(session, after=after, limit=limit)


expose(RegistryService, CONTRACT)
