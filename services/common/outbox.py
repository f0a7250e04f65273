"""Transactional outbox and its relay.

`record_event` writes the event in the caller's transaction: the event exists if
and only if the change that caused it committed (the bug this avoids is
"commit, then dispatch", where a crash between the two loses the event).

`OutboxRelay` publishes pending rows to `<source>.events` with publisher confirms
(collected per batch) and `mandatory=True`, and marks a row sent only after the broker
confirmed it. Per batch (DEFAULT_BATCH_SIZE rows) it makes one claiming SELECT, one
socket write of all the messages, one wait for their confirms and one UPDATE of the
confirmed rows, so the round trips are paid per batch, not per event.
Several relays may run against one PostgreSQL database: each claims its batch
with `FOR UPDATE SKIP LOCKED`, so a row is published by one relay only. A relay
that dies after publishing and before committing leaves the row pending, and it
is published again: delivery is at least once, and consumers drop duplicates by
the envelope id.

Before it publishes anything, the relay declares the platform's event archive
(`archive.py`, a stream bound with `#` to every events exchange), so every event
is routable from the moment it is written, subscribers or not. An event the
broker still returns as unroutable therefore means a misconfiguration (the
archive unbound or deleted): it is logged as an error, counted, and kept in the
outbox, retried with back-off, never dropped.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time

import amqp
import kombu
from kombu import Connection
from prometheus_client import Counter, Gauge
from sqlalchemy import DateTime, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import archive, config, event_payloads
from .db import CommonBase, Database, is_sqlite, utcnow
from .events import dumps, exchange, make_envelope

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter("qi_outbox_published_total", "Events confirmed by the broker", ["source", "type"])
OUTBOX_UNROUTABLE = Counter("qi_outbox_unroutable_total",
                            "Events the broker returned unroutable (a misconfiguration: the event archive takes "
                            "every event); kept and retried", ["source", "type"])
OUTBOX_ERRORS = Counter("qi_outbox_publish_errors_total", "Publish attempts that failed", ["source"])
OUTBOX_LAG = Gauge("qi_outbox_oldest_pending_seconds", "Age of the oldest unsent event", ["source"])


class OutboxEvent(CommonBase):
    __tablename__ = "outbox_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    source: Mapped[str] = mapped_column(String(50), nullable=False)
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_pending", "sent_at", "seq"),)


# Events recorded by this process, per source: a hint for the relay's wake() (a worker that
# recorded nothing, a read, does not make the relay query its table). Polling still finds
# everything, including events written by other processes.
_recorded: dict[str, int] = {}


def record_event(session: Session, source: str, event_type: str, subject, data: dict,
                 version: int = 1) -> dict:
    """Add an event to the caller's transaction and return its envelope.

    The payload is checked against the event type's payload schema in the source
    service's contract (services.common.operations.EventType): an event that does
    not match what the contract publishes is refused here, in the transaction that
    would have sent it, never on the wire.
    """
    event_payloads.check(source, event_type, version, data)
    envelope = make_envelope(source, event_type, str(subject), data, version=version)
    session.add(OutboxEvent(
        id=envelope["id"], type=event_type, version=version, source=source, subject=str(subject),
        occurred_at=utcnow(), body=dumps(envelope), attempts=0,
    ))
    _recorded[source] = _recorded.get(source, 0) + 1
    return envelope


def purge_sent(db: Database, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete events confirmed longer ago than `older_than`, and processed-event ids
    as old (the outbox and the dedup table would otherwise grow for ever).

    Unsent events are never purged. The retention must exceed any redelivery a
    consumer can still see, or a very late duplicate would be applied again.
    """
    from .consumer import ProcessedEvent
    cutoff = (now or utcnow()) - older_than
    with db.transaction() as session:
        sent = session.query(OutboxEvent).filter(OutboxEvent.sent_at.isnot(None),
                                                 OutboxEvent.sent_at < cutoff).delete(synchronize_session=False)
        session.query(ProcessedEvent).filter(ProcessedEvent.processed_at < cutoff).delete(synchronize_session=False)
    return sent


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(600, 2 ** min(attempts, 10)))


# Rows a relay claims per transaction. One batch is one SELECT (FOR UPDATE SKIP LOCKED
# on PostgreSQL), one write to the broker's socket, one wait for the confirms and one
# UPDATE for all its confirmed rows: the per-batch costs are spread over this many events.
DEFAULT_BATCH_SIZE = 500
# Frames of one batch are written to the socket in chunks of about this many bytes.
_WRITE_CHUNK = 256 * 1024
# The most bound parameters one `IN (...)` takes (SQLite's limit is 32766, PostgreSQL's 65535).
_IN_CHUNK = 1000


class OutboxRelay:
    def __init__(self, db: Database, source: str, amqp_uri: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 poll_seconds: float | None = None, name: str | None = None):
        self.db = db
        self.source = source
        self.amqp_uri = amqp_uri or config.amqp_uri()
        self.batch_size = batch_size
        self.poll_seconds = config.outbox_poll_seconds() if poll_seconds is None else poll_seconds
        self.name = name or f"relay-{source}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._connection: Connection | None = None
        self._channel = None
        self._exchange_name = exchange(source).name
        self._returned: set[str] = set()
        self._skip_locked = not is_sqlite(db.engine)
        self.confirm_timeout = 30.0
        self._next_tag = 1
        self._floor = 1                 # every tag below this one is settled
        self._unconfirmed: set[int] = set()
        self._nacked: set[int] = set()
        self._recorded_seen = _recorded.get(source, 0)

    # -- broker ---------------------------------------------------------------
    # Confirms are collected per batch, not per message: the broker acks (or
    # nacks) each delivery tag of a confirm-mode channel, in order, possibly with
    # `multiple`. Waiting once for the whole batch costs one round trip instead
    # of one per event, and a row is still marked sent only after its own ack.
    def _on_return(self, exc, exch, routing_key, message):
        message_id = message.properties.get("message_id")
        if message_id:
            self._returned.add(message_id)

    def _on_ack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, acked=True)

    def _on_nack(self, delivery_tag, multiple, *_):
        self._settle(delivery_tag, multiple, acked=False)

    def _settle(self, delivery_tag, multiple, acked):
        # Tags are given in publish order, so `multiple` settles every tag from the floor
        # up to this one: linear in the batch, not quadratic.
        tags = range(self._floor, delivery_tag + 1) if multiple else (delivery_tag,)
        for tag in tags:
            if tag in self._unconfirmed:
                self._unconfirmed.discard(tag)
                if not acked:
                    self._nacked.add(tag)
        if multiple:
            self._floor = max(self._floor, delivery_tag + 1)

    def _ensure_channel(self):
        if self._channel is None:
            self._connection = Connection(self.amqp_uri, heartbeat=0, connect_timeout=5)
            self._connection.ensure_connection(max_retries=1)
            # The archive first: from here on, no event of this source is unroutable.
            archive.declare(self._connection, self.source)
            channel = self._connection.channel()
            exchange(self.source)(channel).declare()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            self._channel = channel
            self._next_tag = 1
            self._floor = 1
            self._unconfirmed = set()
            self._nacked = set()
        return self._channel

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # closing a broken connection may itself fail
                pass
        self._connection = None
        self._channel = None

    def _message(self, row) -> amqp.Message:
        return amqp.Message(
            row.body, content_type="application/json", content_encoding="utf-8", delivery_mode=2,
            message_id=row.id, type=row.type, app_id=self.source, timestamp=int(time.time()),
            application_headers={"event_version": row.version},
        )

    def _publish_batch(self, rows) -> dict[str, str]:
        """Publish rows and wait for every confirm. Returns row id -> 'sent' | 'unroutable' | 'nacked'.

        The frames of the whole batch are written to the socket together (a few large
        writes instead of one system call and one TCP segment per event): the channel's
        frame writer is pointed at a buffer for the loop, which is then flushed. Nothing
        else writes on this connection (the relay's own, heartbeats off) meanwhile.
        """
        channel = self._ensure_channel()
        transport = self._connection.connection.transport
        tag_of: dict[str, int] = {}
        buffered = hasattr(transport, "_write")
        if buffered:
            direct = transport._write
            chunks: list[bytes] = []
            size = 0

            def collect(data):
                nonlocal size
                chunks.append(bytes(data))  # the frame writer reuses its buffer: copy
                size += len(data)

            def flush():
                nonlocal size
                if chunks:
                    payload = b"".join(chunks)
                    chunks.clear()
                    size = 0
                    direct(payload)
            transport._write = collect
        try:
            for row in rows:
                self._returned.discard(row.id)
                channel.basic_publish(self._message(row), exchange=self._exchange_name, routing_key=row.type,
                                      mandatory=True)
                tag_of[row.id] = self._next_tag
                self._unconfirmed.add(self._next_tag)
                self._next_tag += 1
                if buffered and size >= _WRITE_CHUNK:
                    flush()
            if buffered:
                flush()
        finally:
            if buffered:
                transport._write = direct
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"broker did not confirm {len(self._unconfirmed)} events in time")
            self._connection.drain_events(timeout=remaining)
        outcome = {}
        for row_id, tag in tag_of.items():
            # RabbitMQ sends basic.return before the ack of the same message, so
            # by the time all acks are in, every return has been seen.
            if tag in self._nacked:
                outcome[row_id] = "nacked"
            elif row_id in self._returned:
                outcome[row_id] = "unroutable"
            else:
                outcome[row_id] = "sent"
        self._nacked.difference_update(tag_of.values())
        return outcome

    # -- relay loop -----------------------------------------------------------
    def publish_pending(self) -> int:
        """Claim and publish one batch. Returns how many rows were confirmed.

        One statement claims the batch (plain columns, no ORM objects; `FOR UPDATE SKIP
        LOCKED` on PostgreSQL, so concurrent relays take disjoint rows), and one UPDATE
        marks every confirmed row sent; the rare refused rows get their own back-off.
        """
        table = OutboxEvent.__table__
        c = table.c
        with self.db.transaction() as session:
            now = utcnow()
            query = (select(c.seq, c.id, c.type, c.version, c.body, c.attempts)
                     .where(c.sent_at.is_(None))
                     .where((c.next_attempt_at.is_(None)) | (c.next_attempt_at <= now))
                     .order_by(c.seq).limit(self.batch_size))
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return 0
            try:
                outcome = self._publish_batch(rows)
            except Exception as exc:  # broker gone: roll back, reconnect, publish again later
                OUTBOX_ERRORS.labels(self.source).inc()
                log.warning("%s: publish failed (%s), will retry", self.name, exc)
                self.close()
                raise
            sent = [row for row in rows if outcome[row.id] == "sent"]
            done_at = utcnow()
            for start in range(0, len(sent), _IN_CHUNK):
                session.execute(update(table).where(c.seq.in_([row.seq for row in sent[start:start + _IN_CHUNK]]))
                                .values(sent_at=done_at, attempts=c.attempts + 1, last_error=None))
            by_type: dict[str, int] = {}
            for row in sent:
                by_type[row.type] = by_type.get(row.type, 0) + 1
            for event_type, count in by_type.items():
                OUTBOX_PUBLISHED.labels(self.source, event_type).inc(count)
            for row in rows:
                result = outcome[row.id]
                if result == "sent":
                    continue
                attempts = row.attempts + 1
                if result == "unroutable":
                    error = (f"unroutable: returned by the broker although the event archive "
                             f"{archive.ARCHIVE_QUEUE} should take every event (archive unbound?)")
                    OUTBOX_UNROUTABLE.labels(self.source, row.type).inc()
                    log.error("%s: event %s (%s) returned unroutable: is %s bound to %s? Kept, retried.",
                              self.name, row.id, row.type, archive.ARCHIVE_QUEUE, self._exchange_name)
                else:
                    error = "nacked by the broker"
                    OUTBOX_ERRORS.labels(self.source).inc()
                session.execute(update(table).where(c.seq == row.seq).values(
                    attempts=attempts, next_attempt_at=done_at + _backoff(attempts), last_error=error))
        return len(sent)

    def pending_count(self) -> int:
        with self.db.read() as session:
            from sqlalchemy import func
            return session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None)))

    def _update_lag(self) -> None:
        with self.db.read() as session:
            oldest = session.scalar(select(OutboxEvent.occurred_at).where(OutboxEvent.sent_at.is_(None))
                                    .order_by(OutboxEvent.seq).limit(1))
        OUTBOX_LAG.labels(self.source).set((utcnow() - oldest).total_seconds() if oldest else 0)

    def wake(self) -> None:
        """Publish now, if this process recorded an event of this source since the last wake
        (workers call this after each request; most record nothing and cost nothing here)."""
        recorded = _recorded.get(self.source, 0)
        if recorded != self._recorded_seen:
            self._recorded_seen = recorded
            self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_forever(self, sleep=None) -> None:
        """Publish until stopped. `sleep` lets a nameko container pass eventlet's sleep."""
        sleep = sleep or time.sleep
        failures = 0
        next_purge = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_purge:
                try:
                    purge_sent(self.db, dt.timedelta(days=config.outbox_retention_days()))
                except Exception as exc:  # housekeeping must never stop publishing
                    log.warning("%s: outbox purge failed: %s", self.name, exc)
                next_purge = time.monotonic() + 3600
            try:
                count = self.publish_pending()
                failures = 0
                self._update_lag()
            except (kombu.exceptions.OperationalError, OSError, ConnectionError, Exception) as exc:
                failures += 1
                count = 0
                log.warning("%s: relay iteration failed: %s", self.name, exc)
                sleep(min(10.0, 0.2 * 2 ** min(failures, 6)))
            if count < self.batch_size and not self._stop.is_set():
                # Idle: wait for a poke from a worker that just committed, or poll.
                waited = 0.0
                while waited < self.poll_seconds and not self._wake.is_set() and not self._stop.is_set():
                    sleep(0.05)
                    waited += 0.05
                self._wake.clear()
        self.close()
