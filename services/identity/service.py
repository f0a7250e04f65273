"""The identity service's RPC surface: thin entrypoints over accounts/verification/tokens.

Every method takes and returns JSON-able values and fails with
services.common.errors types, which nameko rebuilds on the caller's side.
Payloads are validated again here although the gateway already did: the RPC
queue is reachable by anything on the broker, not only by the gateway.

    nameko run --config deploy/nameko.yaml services.identity.service
"""
from __future__ import annotations

import functools

from nameko.timer import timer
from prometheus_client import Counter

from services.common import sla
from services.common.collectors import register_service_collectors
from services.common.consumer import run_idempotent
from services.common.errors import Conflict, DomainError, ValidationFailed
from services.common.nameko_ext import DatabaseProvider, MetricsServer, OutboxRelayProvider, SigningKeyCheck, rpc

from . import accounts, external, licence, licence_files, tokens, verification
from .schemas import (REGISTER_SCHEMAS, CreateStaff, FindByPhone, LicenceDecision, LicenceQueueQuery, LicenceUpload,
                      PhoneCodeRequest, PhoneCodeVerify, RoleChange, StatusChange, UserListQuery, load)

_collector_registered: list = []
LOGINS = Counter("qi_identity_logins_total", "Sign-in attempts by outcome", ["outcome"])
OTP_SENT = Counter("qi_identity_otp_sent_total", "One-time codes sent", ["purpose"])

# Every entrypoint declares DomainError expected: those are the caller's doing
# (bad input, missing right), which nameko then logs as a warning, not an error.
# Arguments marked sensitive are redacted by nameko's argument-logging helpers.
_SENSITIVE_REGISTRATION = ("payload.password", "payload.phone", "payload.id_number", "payload.real_name",
                           "payload.contact_name")


@functools.lru_cache(maxsize=1)
def sms_sender() -> verification.SmsSender:
    return verification.sender_from_config()


class IdentityService:
    name = "identity"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()
    signing_key = SigningKeyCheck()

    def caller_session_revoked(self, sid) -> bool:
        """Asked by the RPC entrypoint for every verified caller: identity checks its own database."""
        with self.db.read() as session:
            return tokens.session_revoked(session, sid)

    def _commit_then_raise(self, work):
        """Run `work(session)` in one transaction; a returned DomainError is raised
        only after the commit (counters and revocations must stick)."""
        with self.db.transaction() as session:
            result = work(session)
        if isinstance(result, DomainError):
            raise result
        return result

    @rpc(expected_exceptions=DomainError)
    def ping(self) -> dict:
        return {"service": self.name, "ok": True}

    @rpc(expected_exceptions=DomainError, sensitive_arguments=_SENSITIVE_REGISTRATION)
    def register(self, payload, idempotency_key=None, ip=None) -> dict:
        """Self-registration; `ip` is the client's address as the gateway saw it (for throttling)."""
        kind = payload.get("kind") if isinstance(payload, dict) else None
        schema = REGISTER_SCHEMAS.get(kind)
        if schema is None:
            raise ValidationFailed("Unknown account kind / 未知账号类型",
                                   errors={"kind": ["须为 enterprise 或 person / must be enterprise or person"]})
        data = load(schema, payload)
        try:
            with self.db.transaction() as session:
                def create():
                    # Inside create(): replaying a stored Idempotency-Key result is never throttled.
                    refused = accounts.registration_refused(session, ip)
                    if refused is not None:
                        raise refused
                    user = accounts.register(session, data)
                    return accounts.user_view(user, {"user_id": user.id, "role": user.role})
                return run_idempotent(session, None, idempotency_key, "identity.register", payload, create)
        except Conflict as exc:
            if exc.code == accounts.REGISTRATION_CONFLICT:
                # Counted in a transaction of its own: the refused one rolled back
                # (possibly after a failed flush, which leaves its session unusable).
                with self.db.transaction() as session:
                    accounts.record_registration_conflict(session, ip)
            raise

    @rpc(expected_exceptions=DomainError, sensitive_arguments=_SENSITIVE_REGISTRATION)
    def create_staff(self, principal, payload, idempotency_key=None) -> dict:
        principal = accounts.require_principal(principal)
        data = load(CreateStaff, payload)
        with self.db.transaction() as session:
            def create():
                return accounts.user_view(accounts.create_staff(session, principal, data), principal)
            return run_idempotent(session, str(principal["user_id"]), idempotency_key, "identity.create_staff",
                                  payload, create)

    @rpc(expected_exceptions=DomainError)
    def request_phone_code(self, principal, purpose="verify_phone") -> dict:
        data = load(PhoneCodeRequest, {"purpose": purpose})
        with self.db.transaction() as session:
            user = accounts.load_actor(session, principal)
            result = verification.request_code(session, user, data["purpose"], sms_sender())
        OTP_SENT.labels(data["purpose"]).inc()
        return result

    @rpc(expected_exceptions=DomainError, sensitive_arguments=("code",))
    def verify_phone(self, principal, code, purpose="verify_phone") -> dict:
        data = load(PhoneCodeVerify, {"code": code, "purpose": purpose})

        def work(session):
            user = accounts.load_actor(session, principal)
            result = verification.verify_code(session, user, data["code"], data["purpose"])
            return result if isinstance(result, DomainError) else accounts.me(session, principal)
        return self._commit_then_raise(work)

    @rpc(expected_exceptions=DomainError, sensitive_arguments=("password",))
    def login(self, username, password, ip=None) -> dict:
        try:
            result = self._commit_then_raise(lambda s: accounts.login(s, username, password, ip=ip))
        except DomainError as exc:
            LOGINS.labels(exc.code).inc()
            raise
        LOGINS.labels("ok").inc()
        return result

    @rpc(expected_exceptions=DomainError, sensitive_arguments=("refresh_token",))
    def refresh(self, refresh_token, ip=None) -> dict:
        return self._commit_then_raise(lambda s: accounts.refresh(s, refresh_token, ip=ip))

    @rpc(expected_exceptions=DomainError)
    def logout(self, principal) -> dict:
        with self.db.transaction() as session:
            return accounts.logout(session, principal)

    @rpc(expected_exceptions=DomainError)
    def me(self, principal, reveal=False) -> dict:
        with self.db.transaction() as session:
            return accounts.me(session, principal, reveal=bool(reveal))

    @rpc(expected_exceptions=DomainError)
    def get_user(self, principal, user_id, reveal=False) -> dict:
        # A transaction, not a read: a reveal writes its audit entry.
        with self.db.transaction() as session:
            return accounts.get_user(session, principal, user_id, reveal=bool(reveal))

    @rpc(expected_exceptions=DomainError)
    def account_kind(self, principal, user_id) -> dict:
        with self.db.read() as session:
            return accounts.account_kind(session, principal, user_id)

    @rpc(expected_exceptions=DomainError)
    def list_users(self, principal, role=None, limit=50, cursor=None) -> dict:
        query = load(UserListQuery, {k: v for k, v in (("role", role), ("limit", limit), ("cursor", cursor))
                                     if v is not None})
        with self.db.read() as session:
            return accounts.list_users(session, principal, **query)

    @rpc(expected_exceptions=DomainError)
    def change_role(self, principal, user_id, role, window_id=None, institution_id=None) -> dict:
        data = load(RoleChange, {k: v for k, v in (("role", role), ("window_id", window_id),
                                                   ("institution_id", institution_id)) if v is not None})
        with self.db.transaction() as session:
            user = accounts.change_role(session, principal, user_id, data)
            return accounts.user_view(user, principal)

    @rpc(expected_exceptions=DomainError)
    def set_status(self, principal, user_id, payload) -> dict:
        data = load(StatusChange, payload)
        with self.db.transaction() as session:
            user = accounts.set_status(session, principal, user_id, data["status"], data["reason"])
            return accounts.user_view(user, principal)

    @rpc(expected_exceptions=DomainError)
    def role_history(self, principal, user_id) -> list:
        with self.db.read() as session:
            accounts.require_role(session, principal, accounts.READ_ANY_USER_ROLES)
            return accounts.role_history(session, user_id)

    @rpc(expected_exceptions=DomainError, sensitive_arguments=("phone",))
    def find_user_by_phone(self, principal, phone) -> dict:
        data = load(FindByPhone, {"phone": phone})
        with self.db.transaction() as session:
            return accounts.find_user_by_phone(session, principal, data["phone"])

    @rpc(expected_exceptions=DomainError)
    def revoked_sessions(self) -> list:
        with self.db.read() as session:
            return tokens.revoked_sessions(session)

    # -- business licence review and external verification (verification levels) ---------
    @rpc(expected_exceptions=DomainError)
    def upload_licence(self, principal, payload) -> dict:
        data = load(LicenceUpload, payload)
        with self.db.transaction() as session:
            user = accounts.load_actor(session, principal)
            return licence.submit(session, user, data)

    @rpc(expected_exceptions=DomainError)
    def my_licence(self, principal) -> dict:
        with self.db.read() as session:
            return licence.own(session, accounts.load_actor(session, principal))

    @rpc(expected_exceptions=DomainError)
    def licence_queue(self, principal, status="submitted", limit=50) -> dict:
        query = load(LicenceQueueQuery, {k: v for k, v in (("status", status), ("limit", limit)) if v is not None})
        with self.db.read() as session:
            accounts.require_role(session, principal, licence.QUEUE_READERS)
            return licence.queue(session, **query)

    @rpc(expected_exceptions=DomainError)
    def licence_file(self, principal, user_id) -> dict:
        # A transaction: viewing the licence is audited.
        with self.db.transaction() as session:
            accounts.require_role(session, principal, licence.REVIEWERS)
            return licence.file_for_review(session, principal, user_id)

    @rpc(expected_exceptions=DomainError)
    def decide_licence(self, principal, user_id, payload) -> dict:
        data = load(LicenceDecision, payload)
        with self.db.transaction() as session:
            accounts.require_role(session, principal, licence.REVIEWERS)
            return licence.decide(session, principal, user_id, data)

    @rpc(expected_exceptions=DomainError)
    def request_external_verification(self, principal) -> dict:
        verifier = external.configured()
        with self.db.read() as session:
            user = accounts.load_actor(session, principal)
            external.precheck(user)
            subject = external.subject_of(user)
        result = external.ask(verifier, subject)   # outside any transaction
        with self.db.transaction() as session:
            user = accounts.load_actor(session, principal)
            external.precheck(user)
            return external.record(session, user, verifier, result)

    @rpc(expected_exceptions=DomainError)
    def list_open_clocks(self, principal, overdue=None, calendar_gap=None) -> list:
        """Open licence-review clocks, for GET /sla/clocks (staff)."""
        with self.db.read() as session:
            accounts.require_role(session, principal, licence.QUEUE_READERS)
            return licence.open_clocks(session, overdue=overdue, calendar_gap=calendar_gap)

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
