"""feedback's `institution.rated`, published through the real broker, reaches matching's ranking.

Real RabbitMQ: the event is written to a feedback outbox and published by the real
outbox relay on `feedback.events`, exactly as the feedback service publishes it; the
matching service runs in a nameko container (its own process, eventlet-patched as under
`nameko run`) with only its rating consumer, the entrypoint under test, against a real
matching database (SQLite and PostgreSQL).
The same event delivered twice is applied once.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.common.consumer import ProcessedEvent
from services.common.db import CommonBase, Database, make_engine
from services.common.outbox import OutboxEvent, OutboxRelay, record_event
from services.matching import search
from services.matching.models import IndexedInstitution
from services.matching.ratings import CONSUMER

from ..helpers import apply, profile, profile_event, rated_event


REPO = Path(__file__).resolve().parents[4]
CONSUMER_PROCESS = """
import eventlet
eventlet.monkey_patch()
import sys
from nameko.containers import ServiceContainer
from nameko.testing.services import replace_dependencies, restrict_entrypoints
from services.matching.service import MatchingService
container = ServiceContainer(MatchingService, {"AMQP_URI": sys.argv[1]})
restrict_entrypoints(container, "on_institution_rated")
replace_dependencies(container, "identity", "metrics", "sla_metrics", "relay")
container.start()
print("ready", flush=True)
while True:
    eventlet.sleep(0.2)
"""


@pytest.fixture
def matching(idb, matching_url, amqp_uri, tmp_path):
    env = {**os.environ, "QI_DB_URL_MATCHING": matching_url, "QI_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-W", "ignore", "-c", CONSUMER_PROCESS, amqp_uri], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", "the matching consumer did not start"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def feedback_outbox(tmp_path, amqp_uri):
    """The feedback service's outbox and relay (its tables only: the feedback slice may not have landed)."""
    db = Database(make_engine(f"sqlite:///{tmp_path / 'feedback.db'}"))
    CommonBase.metadata.create_all(db.engine)
    relay = OutboxRelay(db, "feedback", amqp_uri=amqp_uri, poll_seconds=0.1, name="relay-feedback-test")
    yield db, relay
    relay.close()
    db.engine.dispose()


def _wait(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _rating(db, institution_id):
    with db.read() as session:
        row = session.get(IndexedInstitution, institution_id)
        return None if row is None else (row.rating, row.on_time_rate, row.rating_period)


def test_a_published_rating_reranks_search_once(matching, feedback_outbox, idb):
    first, second = profile(institution_id="inst-1"), profile(institution_id="inst-2")
    apply(idb, profile_event(first))
    apply(idb, profile_event(second))
    with idb.read() as session:
        assert [i["institution_id"] for i in search.search(session, {"q": "电线电缆"})["items"]] == ["inst-1", "inst-2"]

    feedback_db, relay = feedback_outbox
    event = rated_event("inst-2", satisfaction=0.96, on_time_rate=0.9)
    with feedback_db.transaction() as session:
        published = record_event(session, "feedback", "institution.rated", "inst-2", event["data"])
    assert relay.publish_pending() == 1
    assert _wait(lambda: _rating(idb, "inst-2")[0] is not None), "the rating never reached matching"
    assert _rating(idb, "inst-2") == (4.8, 0.9, "2026-Q3")

    with idb.read() as session:
        found = search.search(session, {"q": "电线电缆"})["items"]
    assert [i["institution_id"] for i in found] == ["inst-2", "inst-1"]
    assert next(e for e in found[0]["explain"] if e["factor"] == "rating")["value"] == 0.96

    # The relay may publish an event again (a crash between confirm and commit): applied once.
    with feedback_db.transaction() as session:
        session.query(OutboxEvent).filter(OutboxEvent.id == published["id"]).update({"sent_at": None})
    assert relay.publish_pending() == 1

    def claimed_once():
        with idb.read() as session:
            return session.scalar(select(func.count()).select_from(ProcessedEvent).where(
                ProcessedEvent.consumer == CONSUMER, ProcessedEvent.event_id == published["id"])) == 1
    assert _wait(claimed_once)
    time.sleep(0.5)   # the redelivery has been consumed by now (one consumer, in order)
    assert claimed_once() and _rating(idb, "inst-2") == (4.8, 0.9, "2026-Q3")
