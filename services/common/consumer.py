"""Idempotent event consumption and idempotent creating writes.

A consumer records the id of every event it applied in its own database, in the
same transaction as the effect: a redelivered event finds its id and changes
nothing. The same idea backs the HTTP `Idempotency-Key`: the key and the
response are stored with the write they belong to.

While the first request with a key is still running, a second one with the same
key gets 409 `request_in_progress` with Retry-After (not `write_conflict`, which a
client could take as final); a retry after the first committed gets its result.
"In progress" is a claim held for the first request's transaction: on
PostgreSQL a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`, seen
by every instance), on SQLite a claim in the process (one instance per service
on SQLite, as the README says). Both end with the transaction, whatever its end.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

from sqlalchemy import DateTime, String, Text, bindparam, event, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import CommonBase, utcnow
from .errors import Conflict

IN_PROGRESS_RETRY_AFTER = 1  # seconds


class ProcessedEvent(CommonBase):
    __tablename__ = "processed_event"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


_PROCESSED = ProcessedEvent.__table__
_CLAIMED = select(_PROCESSED.c.event_id).where(_PROCESSED.c.consumer == bindparam("consumer"),
                                               _PROCESSED.c.event_id == bindparam("event_id"))
_CLAIM = insert(_PROCESSED)


def claim_event(session: Session, consumer: str, envelope: dict) -> bool:
    """True if this consumer has not applied the event yet (and records that it now has).

    Call inside the transaction that applies the effect. A concurrent duplicate
    fails on the primary key at flush/commit, its transaction rolls back, and the
    redelivery then sees the row and is skipped.
    """
    # Core statements built once, not an ORM get/add/flush: a catching-up consumer claims
    # hundreds of events a second, and the ORM's bookkeeping cost more than the two statements.
    connection = session.connection()
    if connection.execute(_CLAIMED, {"consumer": consumer, "event_id": envelope["id"]}).first() is not None:
        return False
    connection.execute(_CLAIM, {"consumer": consumer, "event_id": envelope["id"], "event_type": envelope["type"],
                                "processed_at": utcnow()})
    return True


class IdempotencyRecord(CommonBase):
    __tablename__ = "idempotency_record"

    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(100), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    response: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


def request_fingerprint(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


_claims_lock = threading.Lock()
_claims: set[tuple[str, str, str]] = set()


def in_progress_error() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still being processed; retry shortly to get its result / "
                    "使用该幂等键的请求仍在处理中，请稍后重试以获取其结果",
                    code="request_in_progress", retry_after=IN_PROGRESS_RETRY_AFTER)


def _claim(session: Session, principal: str, key: str) -> None:
    """Hold (principal, key) for the rest of `session`'s transaction, or raise request_in_progress."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(f"idempotency\0{principal}\0{key}".encode()).digest()[:8], "big",
                                 signed=True)
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id}).scalar():
            raise in_progress_error()
        return
    claim = (str(bind.url), principal, key)
    with _claims_lock:
        if claim in _claims:
            raise in_progress_error()
        _claims.add(claim)
    session.info.setdefault("qi_idempotency_claims", []).append(claim)


@event.listens_for(Session, "after_transaction_end")
def _release_claims(session, transaction):
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        held = session.info.pop("qi_idempotency_claims", None)
        if held:
            with _claims_lock:
                _claims.difference_update(held)


def run_idempotent(session: Session, principal: str | None, key: str | None, operation: str, payload, create):
    """Run `create()` once per (principal, key); later calls return the stored result.

    The record is written in the caller's transaction, so the key and the thing
    it created commit together. Reusing a key for a different request is a 409
    `idempotency_key_reused`; using it while its first request still runs is a 409
    `request_in_progress` with Retry-After.
    """
    if not key:
        return create()
    principal = principal or "anonymous"
    _claim(session, principal, key)
    fingerprint = request_fingerprint({"op": operation, "payload": payload})
    existing = session.get(IdempotencyRecord, (principal, key))
    if existing is not None:
        if existing.request_hash != fingerprint:
            raise Conflict("Idempotency-Key was already used for a different request / 该幂等键已用于其他请求",
                           code="idempotency_key_reused")
        return json.loads(existing.response)
    result = create()
    session.add(IdempotencyRecord(principal=principal, key=key, operation=operation, request_hash=fingerprint,
                                  response=json.dumps(result, default=str), created_at=utcnow()))
    session.flush()
    return result


def handle_once(db, consumer: str, envelope: dict, effect) -> bool:
    """Apply `effect(session, envelope)` unless this consumer already applied this event.

    The processed-event row and the effect commit in one transaction, so a crash
    between effect and acknowledgement leads to a redelivery that is skipped.
    Returns True if the effect ran.
    """
    with db.transaction() as session:
        if not claim_event(session, consumer, envelope):
            return False
        effect(session, envelope)
        return True
