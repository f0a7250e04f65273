"""Housekeeping of the outbox: sent events and dedup ids expire, unsent events never do."""
from __future__ import annotations

import datetime as dt
import uuid

from services.common.consumer import ProcessedEvent
from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.common.outbox import OutboxEvent, purge_sent, record_event


def registered(user_id: str) -> dict:
    """A user.registered payload as identity's contract declares it (record_event validates it)."""
    return {"user_id": user_id, "role": "person", "nickname": "n", "registered_at": "2026-11-25T12:00:00Z"}


def test_purge_keeps_unsent_and_recent_events(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    upgrade("identity", url)
    db = Database(make_engine(url))
    now = dt.datetime(2026, 11, 25, 12, 0)
    with db.transaction() as session:
        ids = [record_event(session, "identity", "user.registered", user_id, registered(user_id))["id"]
               for user_id in (str(uuid.uuid4()) for _ in range(3))]
    with db.transaction() as session:
        rows = {r.id: r for r in session.query(OutboxEvent)}
        rows[ids[0]].sent_at = now - dt.timedelta(days=40)   # old and sent: goes
        rows[ids[1]].sent_at = now - dt.timedelta(days=2)    # recent: stays
        rows[ids[2]].occurred_at = now - dt.timedelta(days=90)  # old but never sent: stays
        session.add(ProcessedEvent(consumer="c", event_id="old", event_type="t", processed_at=now - dt.timedelta(days=40)))
        session.add(ProcessedEvent(consumer="c", event_id="new", event_type="t", processed_at=now))
    assert purge_sent(db, dt.timedelta(days=30), now=now) == 1
    with db.read() as session:
        assert {r.id for r in session.query(OutboxEvent)} == {ids[1], ids[2]}
        assert {p.event_id for p in session.query(ProcessedEvent)} == {"new"}
    db.engine.dispose()
