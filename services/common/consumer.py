"""Idempotent event consumption and idempotent creating writes.

A consumer records the id of every event it applied in its own database, in the
same transaction as the effect: a redelivered event finds its id and changes
nothing. The same idea backs the HTTP `Idempotency-Key`: the key and the
response are stored with the write they belong to.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import CommonBase, utcnow
from .errors import Conflict


class ProcessedEvent(CommonBase):
    __tablename__ = "processed_event"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


def claim_event(session: Session, consumer: str, envelope: dict) -> bool:
    """True if this consumer has not applied the event yet (and records that it now has).

    Call inside the transaction that applies the effect. A concurrent duplicate
    fails on the primary key at flush/commit, its transaction rolls back, and the
    redelivery then sees the row and is skipped.
    """
    if session.get(ProcessedEvent, (consumer, envelope["id"])) is not None:
        return False
    session.add(ProcessedEvent(consumer=consumer, event_id=envelope["id"], event_type=envelope["type"],
                               processed_at=utcnow()))
    session.flush()
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


def run_idempotent(session: Session, principal: str | None, key: str | None, operation: str, payload, create):
    """Run `create()` once per (principal, key); later calls return the stored result.

    The record is written in the caller's transaction, so the key and the thing
    it created commit together. Reusing a key for a different request is a 409.
    """
    if not key:
        return create()
    principal = principal or "anonymous"
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
