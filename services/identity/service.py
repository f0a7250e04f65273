"""The identity service: its HTTP operations come from the contract, the rest is written here.

`expose(IdentityService, CONTRACT)` adds one RPC method per operation of
services/identity/contract (the shared pipeline verifies the caller, checks the
role, loads the input, runs the domain function in a transaction and dumps the
answer). Written by hand below are only the RPCs that are not HTTP operations
(ping, what other services and the gateway call, the SLA overview's clock
list) and the timers.

    nameko run --config deploy/nameko.yaml services.identity.service
"""
from __future__ import annotations

import functools

from nameko.events import BROADCAST, event_handler
from nameko.timer import timer

from services.common import sla
from services.common.collectors import register_service_collectors
from services.common.errors import DomainError
from services.common.nameko_ext import DatabaseProvider, MetricsServer, OutboxRelayProvider, SigningKeyCheck, rpc
from services.common.pipeline import expose

from . import licence, licence_files, revocations, staff, tokens, users, verification
from .contract import CONTRACT
from .principals import require_role

_collector_registered: list = []


@functools.lru_cache(maxsize=1)
def sms_sender() -> verification.SmsSender:
    return verification.sender_from_config()


class IdentityService:
    name = "identity"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    signing_key = SigningKeyCheck()

    def operation_dependencies(self) -> dict:
        """What the contract's domain functions may ask for besides the session."""
        return {"sms": sms_sender(), "db": self.db}

    def caller_session_revoked(self, sid) -> bool:
        """Asked by the RPC entrypoint for every verified caller: identity's own sessions, kept in
        memory from its table and its revocations (revocations.py says how fresh)."""
        return revocations.for_database(self.db).is_revoked(sid)

    @event_handler("identity", "user.session_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_session_revoked(self, envelope):
        """Another identity process (or this one) revoked a session: every process applies it."""
        revocations.for_database(self.db).add_event(envelope)

    @rpc(expected_exceptions=DomainError)
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    # -- called by other services and the gateway (not HTTP operations) -------------------
    @rpc(expected_exceptions=DomainError)
    def account_kind(self, principal, user_id) -> dict:
        """Role and status of an account (matching checks whom window staff file for)."""
        with self.db.read() as session:
            return users.account_kind(session, principal, user_id)

    @rpc(expected_exceptions=DomainError)
    def role_history(self, principal, user_id) -> list:
        with self.db.read() as session:
            require_role(session, principal, users.READ_ANY_USER_ROLES)
            return staff.role_history(session, user_id)

    @rpc(expected_exceptions=DomainError)
    def revoked_sessions(self) -> list:
        """The deny-list a starting gateway or service loads (then kept by user.session_revoked)."""
        with self.db.read() as session:
            return tokens.revoked_sessions(session)

    @rpc(expected_exceptions=DomainError)
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        """Open licence-review clocks, for the gateway's GET /sla/clocks (staff)."""
        with self.db.read() as session:
            return licence.list_open_clocks(session, principal, overdue=overdue, calendar_gap=calendar_gap)

    # -- timers ------------------------------------------------------------------------------
    @timer(interval=3600)
    def licence_files_gc(self):
        """Repair what a crash left in the licence file store (licence_files.gc)."""
        with self.db.read() as session:
            licence_files.gc(session)

    @timer(interval=sla.sweep_seconds())
    def sweep_overdue(self):
        """Mark licence reviews past their working-day limit as overdue (counted as breached), and
        recompute every clock once a newly loaded calendar year changes the fingerprint."""
        if not _collector_registered:
            # The open-clocks and parked-events gauges read the database at scrape time.
            register_service_collectors(self.db)
            _collector_registered.append(True)
        with self.db.transaction() as session:
            sla.sweep_overdue(session)


expose(IdentityService, CONTRACT)
