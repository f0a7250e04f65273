"""One finished SLA clock counts once in feedback's on-time rates, however many events announce it.

Two instances of a service may both record `sla.clock_closed` for the same clock (say both
judged it after a calendar notice): two events with *different* ids, so the processed-event
key (consumer, event id) lets both through. What keeps the verdict single is `clock_verdict`'s
primary key, the clock id. Real SQLite and PostgreSQL, the two events applied at the same time
by two threads (as two consumer workers would):

- PostgreSQL: both transactions read "no verdict yet" before either writes (they meet at the
  flush), so both insert; the loser fails on the key and gets 409 `write_conflict`, which the
  consumer treats as transient (`parking.is_transient`): the broker redelivers it, and the
  redelivery finds the verdict and rewrites the same row.
- SQLite: writers take the database lock in turn (one instance per service, README), so the
  second applies after the first and finds its row.
Either way: one row, counted once, and both events recorded as processed.
"""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from services.common import parking
from services.common.consumer import handle_once
from services.common.db import Database, make_engine
from services.common.errors import Conflict
from services.common.events import make_envelope
from services.common.migrate import upgrade
from services.feedback import service_figures
from services.feedback.statistics import window

pytestmark = pytest.mark.integration

CONSUMER = "feedback.on_matching_clock_closed"
VERDICT = {"clock_id": "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "rule": "matching.demand_response",
           "subject_type": "demand", "subject_id": "a1b2c3d4-0000-4000-8000-000000000001", "outcome": "met",
           "started_at": "2026-09-01T01:00:00Z", "due_at": "2026-09-01T15:59:59.999999Z",
           "stopped_at": "2026-09-01T06:30:00Z", "limit_working_days": 1, "institution_id": None,
           "window_id": "window-A", "judged_at": "2026-09-01T06:30:00Z", "rejudged": False}


def test_two_events_of_one_finished_clock_count_once(database_url):
    upgrade("feedback", database_url)
    db = Database(make_engine(database_url))
    postgres = db.engine.dialect.name == "postgresql"
    # The same verdict recorded twice (two instances): two events, two ids.
    first, second = (make_envelope("matching", "sla.clock_closed", VERDICT["clock_id"], dict(VERDICT))
                     for _ in range(2))
    assert first["id"] != second["id"]

    start, meet = threading.Barrier(2, timeout=20), threading.Barrier(2, timeout=20)
    flushes = {"n": 0}
    lock = threading.Lock()

    @event.listens_for(db.Session, "before_flush")
    def both_read_before_either_writes(session, flush_context, instances):
        # Only the first flush of each of the two racing transactions meets the other.
        with lock:
            flushes["n"] += 1
            racing = flushes["n"] <= 2
        if postgres and racing:
            meet.wait()

    outcomes: dict[str, object] = {}

    def take(envelope):
        start.wait()
        try:
            outcomes[envelope["id"]] = handle_once(db, CONSUMER, envelope, service_figures.apply_clock_closed)
        except Exception as exc:   # noqa: BLE001 -- the test looks at what a consumer would get
            outcomes[envelope["id"]] = exc

    threads = [threading.Thread(target=take, args=(envelope,)) for envelope in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)

    lost = {event_id: exc for event_id, exc in outcomes.items() if isinstance(exc, Exception)}
    if postgres:
        # Both inserted the verdict: the key, not the processed-event check, made one of them lose.
        [(loser, exc)] = lost.items()
        assert isinstance(exc, Conflict) and exc.code == "write_conflict", exc
        assert parking.is_transient(exc)         # redelivered, never parked
        redelivery = first if loser == first["id"] else second
        assert handle_once(db, CONSUMER, redelivery, service_figures.apply_clock_closed) is True
    else:
        assert lost == {} and sorted(outcomes.values()) == [True, True]
    # A third delivery of either event changes nothing.
    assert handle_once(db, CONSUMER, first, service_figures.apply_clock_closed) is False

    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM clock_verdict")).scalar() == 1
        processed = conn.execute(sa.text("SELECT event_id FROM processed_event WHERE consumer = :c"),
                                 {"c": CONSUMER}).scalars().all()
    assert sorted(processed) == sorted([first["id"], second["id"]])
    quarter_start, quarter_end = window(2026, 3)
    with db.read() as session:
        verdicts = service_figures.verdicts_in(session, quarter_start, quarter_end)
        assert service_figures.on_time_rows(verdicts) == [
            {"rule": "matching.demand_response", "met": 1, "breached": 0, "on_time_rate": 1.0}]
        assert [v.window_id for v in verdicts] == ["window-A"]
    db.engine.dispose()
