"""The outbox relay against the real broker and real databases.

Proves: events are published with the documented envelope; none are lost when
the relay dies mid-stream or its broker connection drops; an event no subscriber
binds is routable (the event archive takes it); two relays on PostgreSQL never
publish a row twice.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kombu import Connection, Consumer, Queue

from services.common.db import Database, make_engine
from services.common.events import exchange
from services.common.migrate import upgrade
from services.common.outbox import OutboxEvent, OutboxRelay, record_event

SCHEMA = "identity"   # any service's migrations carry the common outbox tables


@pytest.fixture(autouse=True)
def source(monkeypatch):
    """A source (so an exchange) of this test's own: no stray event from another test or a
    running platform on the same vhost can reach these subscribers."""
    name = f"relaytest{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(sys.modules[__name__], "SOURCE", name)
    return name


SOURCE = "unset"


@pytest.fixture
def db(database_url):
    upgrade(SCHEMA, database_url)
    database = Database(make_engine(database_url))
    yield database
    database.engine.dispose()


def write_events(db: Database, count: int, event_type: str = "user.registered") -> list[str]:
    ids = []
    with db.transaction() as session:
        for i in range(count):
            ids.append(record_event(session, SOURCE, event_type, f"user-{i}", {"n": i})["id"])
    return ids


class Collector:
    """A plain-kombu subscriber with its own durable queue, like an outside agency's."""

    def __init__(self, amqp_uri: str, binding: str = "#"):
        self.amqp_uri = amqp_uri
        self.conn = Connection(amqp_uri)
        self.queue = Queue(f"test-{uuid.uuid4().hex[:8]}", exchange=exchange(SOURCE), routing_key=binding,
                           durable=True, auto_delete=False)
        self.queue(self.conn.default_channel).declare()
        self.bodies: list[dict] = []
        self.messages = []

    def drain(self, expected: int, timeout: float = 30) -> list[dict]:
        """Consume until `expected` distinct ids arrived; reconnects like a real subscriber would."""
        deadline = time.monotonic() + timeout

        def on_message(body, message):
            self.bodies.append(json.loads(body) if isinstance(body, (str, bytes)) else body)
            self.messages.append(message)
            message.ack()

        while len({b["id"] for b in self.bodies}) < expected and time.monotonic() < deadline:
            try:
                with Consumer(self.conn, queues=[self.queue], callbacks=[on_message], accept=["json"]):
                    while len({b["id"] for b in self.bodies}) < expected and time.monotonic() < deadline:
                        try:
                            self.conn.drain_events(timeout=0.5)
                        except TimeoutError:
                            pass
            except TimeoutError:
                pass
            except Exception:  # connection closed by the broker: reconnect, the durable queue kept our messages
                time.sleep(0.2)
                self.conn = Connection(self.amqp_uri)
        return self.bodies

    def close(self):
        try:
            self.queue(self.conn.default_channel).delete()
        finally:
            self.conn.release()


def pending(db: Database) -> int:
    with db.read() as s:
        return s.query(OutboxEvent).filter(OutboxEvent.sent_at.is_(None)).count()


def wait_until_sent(db: Database, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while pending(db) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_relay_publishes_envelopes_with_confirms(db, amqp_uri):
    collector = Collector(amqp_uri)
    ids = write_events(db, 25)
    relay = OutboxRelay(db, SOURCE, amqp_uri=amqp_uri)
    while relay.publish_pending():
        pass
    relay.close()
    bodies = collector.drain(25)
    collector.close()
    assert sorted(b["id"] for b in bodies) == sorted(ids)
    first = bodies[0]
    assert set(first) == {"id", "type", "version", "source", "occurred_at", "subject", "data"}
    assert first["source"] == SOURCE and first["type"] == "user.registered" and first["version"] == 1
    message = collector.messages[0]
    assert message.content_type == "application/json"
    assert message.properties["message_id"] == first["id"]
    assert message.properties["delivery_mode"] == 2
    assert pending(db) == 0


def test_event_type_no_queue_binds_is_sent_at_once(db, amqp_uri):
    """The event archive takes every event (tests/integration/test_event_archive.py has the
    misconfigured case): an event type no subscriber binds is not kept back in the outbox."""
    event_type = f"user.nobody_listens_{uuid.uuid4().hex[:6]}"
    [event_id] = write_events(db, 1, event_type)
    relay = OutboxRelay(db, SOURCE, amqp_uri=amqp_uri)
    assert relay.publish_pending() == 1
    relay.close()
    with db.read() as s:
        row = s.query(OutboxEvent).filter_by(id=event_id).one()
        assert row.sent_at is not None and row.last_error is None and row.attempts == 1


RELAY_SCRIPT = """
import sys, time
from services.common.db import Database, make_engine
from services.common.outbox import OutboxRelay
relay = OutboxRelay(Database(make_engine(sys.argv[1])), sys.argv[3], amqp_uri=sys.argv[2], batch_size=10,
                    poll_seconds=0.1)
relay.run_forever()
"""


def test_relay_killed_mid_stream_loses_nothing(db, database_url, amqp_uri):
    collector = Collector(amqp_uri)
    ids = write_events(db, 400)
    proc = subprocess.Popen([sys.executable, "-c", RELAY_SCRIPT, database_url, amqp_uri, SOURCE])
    # Kill it hard while it is half-way through.
    deadline = time.monotonic() + 60
    while pending(db) > 250 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    left = pending(db)
    assert 0 < left < 400, f"the kill should land mid-stream (pending={left})"
    proc = subprocess.Popen([sys.executable, "-c", RELAY_SCRIPT, database_url, amqp_uri, SOURCE])
    try:
        bodies = collector.drain(400, timeout=60)
        wait_until_sent(db)  # the last batch is confirmed before its commit: give it that moment
    finally:
        proc.kill()
        proc.wait()
        collector.close()
    assert {b["id"] for b in bodies} == set(ids)   # none lost (a re-publish after the kill is allowed)
    assert pending(db) == 0


def test_broker_connection_dropped_mid_stream_loses_nothing(db, amqp_uri):
    collector = Collector(amqp_uri)
    ids = write_events(db, 300)
    relay = OutboxRelay(db, SOURCE, amqp_uri=amqp_uri, batch_size=10, poll_seconds=0.1, name="relay-drop-test")
    thread = threading.Thread(target=relay.run_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while pending(db) > 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    # Drop the relay's connection at the broker, as a broker restart or network cut would.
    vhost = amqp_uri.rsplit("/", 1)[-1] or "/"
    dropped = subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test drop"],
                             capture_output=True).returncode == 0 if shutil.which("rabbitmqctl") else False
    if not dropped:
        relay.close()
    try:
        bodies = collector.drain(300, timeout=60)
        wait_until_sent(db)
    finally:
        relay.stop()
        thread.join(10)
        collector.close()
    assert {b["id"] for b in bodies} == set(ids)
    assert pending(db) == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=False)
def test_two_relays_on_postgresql_publish_each_event_once(backend, pg_databases, amqp_uri):
    url = pg_databases.create("relays")
    upgrade(SCHEMA, url)
    db = Database(make_engine(url))
    collector = Collector(amqp_uri)
    ids = write_events(db, 1000)
    relays = [OutboxRelay(Database(make_engine(url)), SOURCE, amqp_uri=amqp_uri, batch_size=20, poll_seconds=0.05,
                          name=f"relay-{i}") for i in range(2)]
    counts = [0, 0]

    def run(i):
        while pending(db):
            counts[i] += relays[i].publish_pending()
        relays[i].close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    bodies = collector.drain(1000, timeout=60)
    time.sleep(0.5)
    bodies = collector.drain(1000, timeout=1)  # pick up any straggler duplicate
    collector.close()
    received = [b["id"] for b in bodies]
    assert len(received) == 1000, f"{len(received) - len(set(received))} duplicates"
    assert set(received) == set(ids)
    assert counts[0] > 0 and counts[1] > 0, f"both relays should have worked: {counts}"
    assert sum(counts) == 1000
    db.engine.dispose()
