"""Poison events are parked, not looped and not lost.

A consumer whose effect fails for a reason a retry cannot fix (malformed data, a
bug) would otherwise be redelivered for ever, spinning a core and blocking
nothing useful. Such an event is stored in the consumer's own database with the
error and acknowledged; an operator fixes the cause and replays it:

    python -m services.common.parking list matching
    python -m services.common.parking replay matching EVENT_ID

Replay republishes the stored envelope to its source exchange; every consumer
drops it by id if it had already applied it, so replay is safe.
Failures that a retry can fix (database or broker unavailable) are not parked:
they are redelivered.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging

from prometheus_client import Counter
from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from . import config
from .db import CommonBase, Database, engine_for, utcnow
from .events import dumps, exchange

log = logging.getLogger(__name__)

EVENTS_PARKED = Counter("qi_events_parked_total", "Events a consumer could not apply, parked for an operator",
                        ["consumer", "type"])

class ParkedEvent(CommonBase):
    __tablename__ = "parked_event"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    source: Mapped[str] = mapped_column(String(50), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    error: Mapped[str] = mapped_column(Text, nullable=False)
    parked_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    replayed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


def is_transient(exc: BaseException) -> bool:
    """Worth a redelivery: the database or the network failed, or a concurrent
    duplicate won a race (its redelivery is then dropped by id); not the event at fault."""
    from .errors import Conflict
    if isinstance(exc, Conflict) and exc.code == "write_conflict":
        return True
    if isinstance(exc, DBAPIError) and getattr(exc, "connection_invalidated", False):
        return True
    return isinstance(exc, (OperationalError, OSError, ConnectionError, TimeoutError))


def park(db: Database, consumer: str, envelope, exc: BaseException) -> None:
    body = envelope if isinstance(envelope, dict) else {"raw": str(envelope)}
    event_id = str(body.get("id") or "unknown")[:64]
    event_type = str(body.get("type") or "unknown")[:100]
    with db.transaction() as session:
        if session.get(ParkedEvent, (consumer, event_id)) is None:
            session.add(ParkedEvent(consumer=consumer, event_id=event_id, event_type=event_type,
                                    source=str(body.get("source") or "unknown")[:50], body=dumps(body),
                                    error=f"{type(exc).__name__}: {exc}"[:2000], parked_at=utcnow()))
    EVENTS_PARKED.labels(consumer, event_type).inc()
    log.error("%s: event %s (%s) parked: %s: %s", consumer, event_id, event_type, type(exc).__name__, exc)


def list_parked(db: Database) -> list[dict]:
    with db.read() as session:
        rows = session.scalars(select(ParkedEvent).order_by(ParkedEvent.parked_at)).all()
        return [{"consumer": r.consumer, "event_id": r.event_id, "type": r.event_type, "error": r.error,
                 "parked_at": r.parked_at.isoformat() + "Z",
                 "replayed_at": r.replayed_at.isoformat() + "Z" if r.replayed_at else None} for r in rows]


def replay(db: Database, event_id: str, amqp_uri: str | None = None) -> int:
    """Republish parked copies of an event to their source exchange; returns how many."""
    from kombu import Connection, Producer
    with db.transaction() as session:
        rows = session.scalars(select(ParkedEvent).where(ParkedEvent.event_id == event_id)).all()
        with Connection(amqp_uri or config.amqp_uri(), transport_options={"confirm_publish": True}) as conn:
            producer = Producer(conn.channel())
            for row in rows:
                envelope = json.loads(row.body)
                producer.publish(row.body, exchange=exchange(row.source), routing_key=row.event_type,
                                 declare=[exchange(row.source)], delivery_mode=2, content_type="application/json",
                                 content_encoding="utf-8", serializer=None, message_id=envelope.get("id"),
                                 type=row.event_type, app_id=row.source, mandatory=True)
                row.replayed_at = utcnow()
        return len(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("service")
    parser.add_argument("event_id", nargs="?")
    args = parser.parse_args(argv)
    db = Database(engine_for(args.service))
    if args.action == "list":
        print(json.dumps(list_parked(db), ensure_ascii=False, indent=2))
    else:
        if not args.event_id:
            parser.error("replay needs an EVENT_ID")
        print(f"replayed {replay(db, args.event_id)} parked cop(ies) of {args.event_id}")


if __name__ == "__main__":
    main()


class ParkedEventsCollector:
    """`qi_events_parked_pending{consumer}`: parked events not replayed yet, read from the
    database at scrape time (the `qi_events_parked_total` counter resets on restart
    and cannot say whether an operator has dealt with them). Instances sharing a
    database report the same value: alert on max by (consumer)."""

    NAME = "qi_events_parked_pending"
    DOC = "Parked events waiting for an operator (not replayed), per consumer (read from the database)"

    def __init__(self, database: Database):
        self.database = database

    def describe(self):
        from prometheus_client.core import GaugeMetricFamily
        return [GaugeMetricFamily(self.NAME, self.DOC, labels=["consumer"])]

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func
        family = GaugeMetricFamily(self.NAME, self.DOC, labels=["consumer"])
        try:
            with self.database.read() as session:
                rows = session.execute(select(ParkedEvent.consumer, func.count())
                                       .where(ParkedEvent.replayed_at.is_(None)).group_by(ParkedEvent.consumer)).all()
        except Exception as exc:  # a failing scrape must not take the metrics endpoint down
            log.warning("%s: database query failed: %s", self.NAME, exc)
            return
        for consumer, count in rows:
            family.add_metric([consumer], count)
        yield family
